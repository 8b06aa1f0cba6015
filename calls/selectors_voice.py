"""Reads the voice endpoints need, scoped to the agent."""

from __future__ import annotations

from agents.models import AIAgent
from calls.models import CallSession
from core.errors import NotFound


def call_by_sid(*, agent: AIAgent, call_sid: str) -> CallSession:
    """Another client's call is "not found", exactly like a missing one."""
    call = (
        CallSession.objects.select_related("customer_profile").filter(ai_agent=agent, twilio_call_sid=call_sid).first()
    )
    if call is None:
        raise NotFound("Call not found.")
    return call
