"""Everything the conversation provider may know for one turn, read from rows already loaded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from agents.models import AIAgent
from calls.models import CallSession, CallTurn
from customers.contactability import booking_zone
from customers.models import CustomerProfile
from integrations.llm.base import ConversationContext, CustomerSnapshot, Turn


def build_context(
    *,
    agent: AIAgent,
    call: CallSession,
    customer: CustomerProfile,
    turns: Sequence[Any],  # CallTurn rows or the engine's TranscriptLine values (speaker, text)
    utterance: str | None,
) -> ConversationContext:
    """Build the provider's view of the call without touching the database.

    The agent's knowledge is compiled at training time and its memory is folded by the
    learning task, so a turn reads them from the agent row it already has.
    """
    knowledge = agent.knowledge or {}
    company = knowledge.get("company_info", {})
    business_info = {**(agent.business_info or {}), **{k: v for k, v in company.items() if v}}
    notes = [n.get("text", "") if isinstance(n, dict) else str(n) for n in (customer.conversation_notes or [])][-3:]
    objections = [o.get("key", "") if isinstance(o, dict) else str(o) for o in (customer.objections or [])]
    return ConversationContext(
        agent_name=agent.name,
        company_name=business_info.get("company_name") or agent.client.name,
        now_local=timezone.now().astimezone(booking_zone(customer, agent)),
        script=knowledge.get("script", ""),
        personality_type=agent.personality_type,
        language=agent.language,
        product_info=knowledge.get("product_info", {}),
        objection_responses=knowledge.get("objection_responses", {}),
        faq=knowledge.get("faq", {}),
        sales_techniques=tuple(knowledge.get("sales_techniques", [])),
        client_instructions="\n".join(knowledge.get("client_instructions", [])),
        business_info=business_info,
        memory=agent.conversation_memory or {},
        customer=CustomerSnapshot(
            name=customer.name,
            phone_number=customer.phone_number,
            interest_level=customer.interest_level,
            objections=tuple(o for o in objections if o),
            notes=tuple(n for n in notes if n),
            previous_calls=customer.total_calls,
            call_preference_time=customer.call_preference_time,
        ),
        call_type=call.call_type,
        call_purpose=call.context,
        transcript=tuple(Turn(t.speaker, t.text) for t in turns if t.speaker != CallTurn.Speaker.SYSTEM),
        caller_utterance=utterance,
    )
