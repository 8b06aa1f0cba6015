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


def live_call_for_update(*, agent_public_id, call_sid: str) -> CallSession | None:
    """A call with its agent, client and customer in one read, locked (call row only).

    For the conversation turn: run inside a transaction. Reads only; the caller checks the
    webhook signature with the client's token from this row before writing anything.
    """
    if not call_sid or len(call_sid) > 64:
        return None
    return (
        CallSession.objects.select_for_update(of=("self",))
        .select_related("ai_agent__client", "customer_profile")
        .filter(ai_agent__public_id=agent_public_id, twilio_call_sid=call_sid)
        .first()
    )
