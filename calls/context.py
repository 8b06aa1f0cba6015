"""Everything the conversation provider may know for one turn, read from rows already loaded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.utils import timezone

from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from calls.selectors import earlier_conversation
from conversation import intents
from customers.contactability import booking_zone
from customers.models import CustomerProfile
from integrations.llm.base import ConversationContext, CustomerSnapshot, PreviousCall, Turn

# The greeting turn carries what the agent remembered as one action record of this type, so
# every later turn reads the memory from the transcript it already has (no extra statement).
MEMORY_RECORD = "remembered_call"
_SAID_KEPT = 3  # the caller's last few sentences are enough to pick up the thread
_SAID_MAX_CHARS = 200
_REASON_MAX_CHARS = 300
_KEY_MAX_CHARS = 60


def build_context(
    *,
    agent: AIAgent,
    call: CallSession,
    customer: CustomerProfile,
    turns: Sequence[CallTurn],
    utterance: str | None,
    previous_call: PreviousCall | None = None,
) -> ConversationContext:
    """Build the provider's view of the call without touching the database.

    The agent's knowledge is compiled at training time and its memory is folded by the
    learning task, so a turn reads them from the agent row it already has. The memory of the
    earlier call is ``previous_call`` at the greeting and the greeting's record afterwards.
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
        previous_call=previous_call or remembered_in(turns),
        transcript=tuple(Turn(t.speaker, t.text) for t in turns if t.speaker != CallTurn.Speaker.SYSTEM),
        caller_utterance=utterance,
    )


def previous_call_memory(*, agent: AIAgent, call: CallSession, customer: CustomerProfile) -> PreviousCall | None:
    """What the agent remembers of the customer's last conversation, read when ``call`` begins.

    A callback remembers the call it was booked on (and why); any other call of a customer the
    agent has spoken to remembers the last answered one. None for a first conversation.
    """
    earlier = earlier_conversation(agent=agent, call=call, customer=customer)
    if earlier is None:
        return None
    callback = earlier.callback
    caller_lines = [line.text.strip() for line in earlier.turns if line.speaker == CallTurn.Speaker.CALLER]
    caller_lines = [text for text in caller_lines if text]
    asked = []
    for text in caller_lines:
        topic = intents.product_topic(text)
        if topic and topic not in asked:
            asked.append(topic)
    # An objection stays open unless the earlier call gave the trained answer to it.
    answered = {
        str(record.get("key"))
        for line in earlier.turns
        for record in line.actions or []
        if isinstance(record, dict) and record.get("type") == "answered_objection"
    }
    open_objections: list[str] = []
    if not customer.is_converted:
        for objection in customer.objections or []:
            key = str(objection.get("key", "") if isinstance(objection, dict) else objection)[:_KEY_MAX_CHARS]
            if key and key not in answered and key not in open_objections:
                open_objections.append(key)
    reason = ""
    if callback is not None and callback.kind == ScheduledCallback.Kind.CALLBACK:
        reason = " ".join(callback.reason.split())[:_REASON_MAX_CHARS] or "The customer asked to be called back."
    return PreviousCall(
        on=earlier.call.started_at.astimezone(booking_zone(customer, agent)).date(),
        outcome=earlier.call.outcome,
        callback_reason=reason,
        asked_about=tuple(asked),
        caller_said=tuple(text[:_SAID_MAX_CHARS] for text in caller_lines[-_SAID_KEPT:]),
        open_objections=tuple(open_objections[-5:]),
    )


def memory_record(memory: PreviousCall) -> dict:
    """``memory`` as the greeting turn's action record (JSON)."""
    return {
        "type": MEMORY_RECORD,
        "on": memory.on.isoformat(),
        "outcome": memory.outcome,
        "callback_reason": memory.callback_reason,
        "asked_about": list(memory.asked_about),
        "caller_said": list(memory.caller_said),
        "open_objections": list(memory.open_objections),
    }


def remembered_in(turns: Sequence[CallTurn]) -> PreviousCall | None:
    """The memory the greeting stored (see :data:`MEMORY_RECORD`), or None."""
    if not turns or turns[0].sequence != 0:
        return None
    record = next((a for a in turns[0].actions or [] if isinstance(a, dict) and a.get("type") == MEMORY_RECORD), None)
    if record is None:
        return None
    try:
        on = date.fromisoformat(str(record.get("on")))
    except ValueError:
        return None

    def texts(name: str) -> tuple[str, ...]:
        value = record.get(name)
        return tuple(str(item) for item in value) if isinstance(value, list) else ()

    return PreviousCall(
        on=on,
        outcome=str(record.get("outcome") or ""),
        callback_reason=str(record.get("callback_reason") or ""),
        asked_about=texts("asked_about"),
        caller_said=texts("caller_said"),
        open_objections=texts("open_objections"),
    )
