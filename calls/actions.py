"""Carry out what the provider decided on a turn, through the owning apps' services.

Each action becomes a JSON record on the agent's turn, so the transcript shows what the
agent did (callback booked, do-not-call set) and a replayed webhook re-renders the same answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from agents.models import AIAgent
from callbacks.services import callback_schedule
from calls.models import CallSession
from core.errors import CallNotAllowed, ValidationFailed
from core.phone import normalize_e164
from customers.contactability import note_preferred_time
from customers.level_counts import customer_level_counts_sync
from customers.models import CustomerProfile
from customers.services import customer_opt_out, customer_raise_interest, customer_record_objection
from integrations.llm import base as llm

logger = logging.getLogger(__name__)

NO_TRANSFER_NUMBER = (
    "I'm sorry, there's no one available to take your call right now. "
    "Would you like a colleague to call you back? Just tell me when suits you."
)
NO_NUMBER = "I don't have a number to call you back on; can you give me one?"


@dataclass
class AppliedActions:
    records: list[dict] = field(default_factory=list)
    end_outcome: str = ""  # set when the call should end after this turn
    transfer_to: str = ""  # a number to <Dial>
    extra_text: str = ""  # said after the provider's text (e.g. the time actually booked)
    say_instead: str = ""  # said in place of the provider's text, which promised what cannot happen
    customer_fields: set[str] = field(default_factory=set)


def spoken_time(moment: datetime, zone_name: str) -> str:
    """'Tuesday November 24 at 2 PM' in the customer's zone: how a person says a time."""
    return moment.astimezone(ZoneInfo(zone_name)).strftime("%A %B %-d at %-I:%M %p").replace(":00 ", " ")


OPT_OUT_CONFIRMATION = (
    "Of course. I've removed your number from our call list, and we won't call you again. "
    "Sorry for the bother. Goodbye."
)


def opt_out_reply(*, utterance: str) -> llm.Reply:
    """The engine's answer to a caller who asks not to be called: confirm, opt out, end the call.

    The law says stop, so this does not depend on a model remembering its tool: a turn whose
    words are an opt-out (``intents.is_opt_out``, the rule the scripted agent uses) is answered
    with this before any provider is asked (``calls.turns.turn_plan``).
    """
    return llm.Reply(
        text=OPT_OUT_CONFIRMATION,
        actions=(
            llm.MarkDoNotCall(reason=f"Caller asked not to be called: {utterance[:160]}"),
            llm.EndCall("do_not_call"),
        ),
        provider="engine",
    )


def apply_actions(
    *, agent: AIAgent, call: CallSession, customer: CustomerProfile, reply: llm.Reply, utterance: str | None
) -> AppliedActions:
    result = AppliedActions()
    for action in reply.actions:
        if isinstance(action, llm.MarkDoNotCall):
            cancelled = customer_opt_out(customer=customer, reason="Customer opted out on a call.").callbacks_cancelled
            result.records.append(
                {"type": "mark_do_not_call", "reason": action.reason, "callbacks_cancelled": cancelled}
            )
            result.end_outcome = result.end_outcome or CallSession.Outcome.DO_NOT_CALL
        elif isinstance(action, llm.ScheduleCallback):
            booked = _book(agent=agent, call=call, customer=customer, action=action, result=result)
            # The time a caller asks for is when they like to be called (the outcome API does the same).
            if booked and note_preferred_time(customer=customer, agent=agent, asked_for=action.when):
                result.customer_fields.add("call_preference_time")
        elif isinstance(action, llm.SetInterestLevel):
            # A level the provider made up is ignored; the ladder itself is the customer's rule.
            valid = action.level in CustomerProfile.InterestLevel.values
            if valid and customer_raise_interest(customer=customer, level=action.level):
                result.records.append({"type": "set_interest_level", "level": action.level})
        elif isinstance(action, llm.RecordObjection):
            customer_record_objection(
                customer=customer, key=action.key, text=action.text or (utterance or ""), call_id=str(call.pk)
            )
            result.records.append({"type": "record_objection", "key": action.key})
        elif isinstance(action, llm.TransferToHuman):
            _transfer(agent=agent, call=call, action=action, result=result)
        elif isinstance(action, llm.EndCall):
            result.end_outcome = result.end_outcome or action.outcome
            result.records.append({"type": "end_call", "outcome": action.outcome})
    if result.say_instead == NO_NUMBER:
        # The call stays open for the caller's answer, whatever the provider meant to do next.
        result.end_outcome = ""
        result.records = [r for r in result.records if r.get("type") != "end_call"]
    if result.customer_fields:
        customer.save(update_fields=[*sorted(result.customer_fields), "updated_at"])
        customer_level_counts_sync(customer_ids=[customer.pk])
    return result


def _transfer(*, agent: AIAgent, call: CallSession, action: llm.TransferToHuman, result: AppliedActions) -> None:
    """Only the client's configured transfer number is ever dialled.

    A number the model named is compared in E.164 and, when it is not that one, ignored with
    a warning. With no number configured the caller hears so in one message (not "please
    hold" first) and is offered a callback, which is booked only if they accept it.
    """
    configured = agent.client.transfer_phone_number
    if action.requested_number and _e164_or_blank(action.requested_number) != configured:
        logger.warning(
            "Call %s: the LLM asked to transfer to %r, which is not the client's transfer number; ignored",
            call.twilio_call_sid,
            action.requested_number,
        )
    if configured:
        result.transfer_to = configured
        result.records.append({"type": "transfer_to_human", "to": configured, "reason": action.reason})
        return
    result.say_instead = NO_TRANSFER_NUMBER
    result.records.append({"type": "transfer_unavailable", "reason": "no transfer number set"})


def _e164_or_blank(raw: str) -> str:
    try:
        return normalize_e164(raw)
    except ValidationFailed:
        return ""


def _book(
    *,
    agent: AIAgent,
    call: CallSession,
    customer: CustomerProfile,
    action: llm.ScheduleCallback,
    result: AppliedActions,
    priority: int = 2,
) -> bool:
    if not customer.phone_number:
        # A caller who withheld their number: ask for one, and keep the request so the callback
        # is booked when they say it (calls.engine).
        result.say_instead = NO_NUMBER
        result.records.append(
            {
                "type": "schedule_callback",
                "refused": "no number to call back on",
                "code": "no_number",
                "requested": action.when.isoformat(),
                "reason": action.reason or "Customer asked for a callback",
                "priority": priority,
            }
        )
        return False
    try:
        callback = callback_schedule(
            agent=agent,
            customer=customer,
            at=action.when,
            reason=action.reason or "Customer asked for a callback",
            priority=priority,
            source_call=call,
        )
    except CallNotAllowed as refused:
        result.records.append({"type": "schedule_callback", "refused": refused.message})
        return False
    moved = abs((callback.scheduled_datetime - action.when).total_seconds()) > 60
    zone = customer.timezone or agent.client.timezone
    if moved and action.when > timezone.now():
        result.extra_text = f"The earliest I can call you is {spoken_time(callback.scheduled_datetime, zone)}."
    call.followup_scheduled = True
    call.followup_datetime = callback.scheduled_datetime
    result.records.append(
        {
            "type": "schedule_callback",
            "callback_id": str(callback.pk),
            "requested": action.when.isoformat(),
            "booked": callback.scheduled_datetime.isoformat(),
            "moved": moved,
            "reason": callback.reason,
        }
    )
    return True
