"""Reads of agents and their training, always scoped to a client."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Client
from agents.models import AIAgent, AIAgentTraining
from core.errors import NotFound

NO_AGENT_MESSAGE = "This client has no AI agent yet. Create one with POST /api/agents/ai/setup/."


def agent_for_client(*, client: Client) -> AIAgent:
    """The client's agent, or NotFound telling the client how to create one."""
    agent = AIAgent.objects.select_related("client").filter(client=client).first()
    if agent is None:
        raise NotFound(NO_AGENT_MESSAGE, code="agent_not_found")
    return agent


def agent_by_public_id(*, public_id) -> AIAgent:
    """For webhooks: the URL's public id names the agent and so the tenant."""
    agent = AIAgent.objects.select_related("client").filter(public_id=public_id).first()
    if agent is None:
        raise NotFound("Unknown agent.")
    return agent


def training_list(*, agent: AIAgent) -> QuerySet[AIAgentTraining]:
    return AIAgentTraining.objects.filter(ai_agent=agent).order_by("-created_at")
