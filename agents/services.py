"""Writes to agents: set-up, settings, training."""

from __future__ import annotations

from datetime import time
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Client
from agents.knowledge import compile_knowledge, training_level
from agents.models import ACTIVE_THRESHOLD, LEARNING_THRESHOLD, AIAgent, AIAgentTraining
from core.errors import Conflict, ValidationFailed
from core.phone import normalize_e164

EDITABLE_FIELDS = {
    "name", "personality_type", "voice_model", "language", "phone_number", "working_hours_start",
    "working_hours_end", "business_info", "sales_goals", "voicemail_message", "followup_delay_minutes",
    "followup_max_attempts", "status",
}  # fmt: skip


def status_for_level(level: int, current: str) -> str:
    """training < 20 % <= learning < 80 % <= active; optimizing and paused are kept."""
    if current in (AIAgent.Status.PAUSED, AIAgent.Status.OPTIMIZING) and level >= ACTIVE_THRESHOLD:
        return current
    if current == AIAgent.Status.PAUSED:
        return current
    if level >= ACTIVE_THRESHOLD:
        return AIAgent.Status.ACTIVE
    if level >= LEARNING_THRESHOLD:
        return AIAgent.Status.LEARNING
    return AIAgent.Status.TRAINING


def _check_hours(start: time, end: time) -> None:
    if start >= end:
        raise ValidationFailed("working_hours_start must be before working_hours_end.")


def agent_setup(
    *,
    client: Client,
    name: str,
    personality_type: str = AIAgent.Personality.FRIENDLY,
    voice_model: str = "Polly.Joanna-Neural",
    language: str = "en-US",
    working_hours_start: time = time(9, 0),
    working_hours_end: time = time(18, 0),
    business_info: dict | None = None,
    sales_goals: dict | None = None,
    phone_number: str | None = None,
) -> AIAgent:
    """Create the client's one agent, blank: status training, level 0."""
    _check_hours(working_hours_start, working_hours_end)
    if AIAgent.objects.filter(client=client).exists():
        raise Conflict(
            "This client already has an AI agent. Update it with PATCH /api/agents/ai/.", code="agent_exists"
        )
    agent = AIAgent(
        client=client,
        name=name,
        personality_type=personality_type,
        voice_model=voice_model,
        language=language,
        working_hours_start=working_hours_start,
        working_hours_end=working_hours_end,
        business_info=business_info or {},
        sales_goals=sales_goals or {},
        phone_number=normalize_e164(phone_number) if phone_number else None,
    )
    agent.knowledge = compile_knowledge([], agent.business_info)
    try:
        with transaction.atomic():
            agent.save()
    except IntegrityError:
        # Two set-ups raced, or the number belongs to another agent.
        if AIAgent.objects.filter(client=client).exists():
            raise Conflict("This client already has an AI agent.", code="agent_exists") from None
        raise Conflict("That phone number is already used by another agent.", code="phone_in_use") from None
    return agent


def agent_update(*, agent: AIAgent, **changes: Any) -> AIAgent:
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    if changes.get("phone_number"):
        changes["phone_number"] = normalize_e164(changes["phone_number"])
    for field, value in changes.items():
        setattr(agent, field, value)
    _check_hours(agent.working_hours_start, agent.working_hours_end)
    if "status" in changes and changes["status"] != AIAgent.Status.PAUSED:
        agent.status = status_for_level(agent.training_level, AIAgent.Status.TRAINING)
    if "business_info" in changes:
        agent.knowledge = compile_knowledge(agent.trainings.order_by("created_at"), agent.business_info)
        agent.training_level = training_level(agent.knowledge)
        agent.status = status_for_level(agent.training_level, agent.status)
    try:
        with transaction.atomic():
            agent.save()
    except IntegrityError:
        raise Conflict("That phone number is already used by another agent.", code="phone_in_use") from None
    return agent


@transaction.atomic
def training_add(
    *,
    agent: AIAgent,
    training_type: str,
    training_content: str = "",
    product_details: dict | None = None,
    objection_responses: dict | None = None,
    sales_techniques: list[str] | None = None,
    faq: dict | None = None,
    company_info: dict | None = None,
    client_instructions: str = "",
    sales_goals: dict | None = None,
) -> AIAgentTraining:
    """Record a training session, recompile the agent's knowledge and move its level/status."""
    data: dict[str, Any] = {}
    if training_content.strip():
        # Script sessions teach the greeting; other types keep their prose as notes.
        data["script" if training_type == AIAgentTraining.TrainingType.SCRIPT else "notes"] = training_content.strip()
    if objection_responses:
        data["objection_responses"] = objection_responses
    if sales_techniques:
        data["sales_techniques"] = sales_techniques
    if faq:
        data["faq"] = faq
    if company_info:
        data["company_info"] = company_info
    if not (data or product_details or client_instructions.strip()):
        raise ValidationFailed("A training session needs some material: content, product details, objections, ...")
    agent = AIAgent.objects.select_for_update().get(pk=agent.pk)
    session = AIAgentTraining.objects.create(
        ai_agent=agent,
        training_type=training_type,
        training_data=data,
        client_instructions=client_instructions.strip(),
        sales_goals=sales_goals or {},
        product_info=product_details or {},
    )
    if sales_goals:
        agent.sales_goals = {**agent.sales_goals, **sales_goals}
    agent.knowledge = compile_knowledge(agent.trainings.order_by("created_at"), agent.business_info)
    agent.training_level = training_level(agent.knowledge)
    agent.status = status_for_level(agent.training_level, agent.status)
    agent.save(update_fields=["knowledge", "training_level", "status", "sales_goals", "updated_at"])
    session.completion_percentage = agent.training_level
    session.save(update_fields=["completion_percentage"])
    return session
