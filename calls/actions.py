"""Carry out what the provider decided on a turn, through the owning apps' services.

Each action becomes a JSON record on the agent's turn, so the transcript shows what the
agent did (callback booked, do-not-call set) and a replayed webhook re-renders the same answer.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from agents.models import AIAgent
from callbacks.services import callback_schedule, callbacks_cancel_for_customer
from calls.models import CallSession
from core.errors import CallNotAllowed
from customers.models import CustomerProfile
from customers.services import customer_mark_do_not_call
from integrations.llm import base as llm
from integrations.llm.intents import is_opt_out

logger = logging.getLogger(__name__)

LEVEL_ORDER = {"cold": 0, "warm": 1, "hot": 2, "converted": 3}


@dataclass
class AppliedActions:
    records: list[dict] = field(default_factory=list)
    end_outcome: str = ""  # set when the call should end after this turn
    transfer_to: str = ""  # a number to <Dial>
    extra_text: str = ""  # said after the provider's text (e.g. the time actually booked)
    customer_fields: set[str] = field(default_factory=set)


def spoken_time(moment: datetime, zone_name: str) -> str:
    """'Tuesday November 24 at 2 PM' in the customer's zone: how a person says a time."""
    return moment.astimezone(ZoneInfo(zone_name)).strftime("%A %B %-d at %-I:%M %p").replace(":00 ", " ")


OPT_OUT_CONFIRMATION = (
    "Of course. I've removed your number from our call list, and we won't call you again. "
    "Sorry for the bother. Goodbye."
)


def opt_out_honoured(*, reply: llm.Reply, utterance: str | None, call_sid: str) -> llm.Reply:
    """A caller who asks not to be called is opted out, whatever the provider answered.

    The law says stop, so this does not depend on a model remembering its tool: a reply to
    an opt-out (``intents.is_opt_out``, the rule the scripted agent uses) that does not mark
    the customer is replaced by the confirmation, the opt-out and the end of the call.
    """
    if not utterance or not is_opt_out(utterance) or any(isinstance(a, llm.MarkDoNotCall) for a in reply.actions):
        return reply
    logger.warning("Call %s: the %s provider missed an opt-out; honouring it", call_sid, reply.provider or "?")
    return dataclasses.replace(
        reply,
        text=OPT_OUT_CONFIRMATION,
        actions=(
            llm.MarkDoNotCall(reason=f"Caller asked not to be called: {utterance[:160]}"),
            llm.EndCall("do_not_call"),
        ),
    )


def apply_actions(
    *, agent: AIAgent, call: CallSession, customer: CustomerProfile, reply: llm.Reply, utterance: str | None
) -> AppliedActions:
    result = AppliedActions()
    for action in reply.actions:
        if isinstance(action, llm.MarkDoNotCall):
            customer_mark_do_not_call(customer=customer)
            cancelled = callbacks_cancel_for_customer(customer=customer, reason="Customer opted out on a call.")
            result.records.append(
                {"type": "mark_do_not_call", "reason": action.reason, "callbacks_cancelled": cancelled}
            )
            result.end_outcome = result.end_outcome or CallSession.Outcome.DO_NOT_CALL
        elif isinstance(action, llm.ScheduleCallback):
            _book(agent=agent, call=call, customer=customer, action=action, result=result)
        elif isinstance(action, llm.SetInterestLevel):
            level = action.level if action.level in LEVEL_ORDER else ""
            # A converted customer stays converted: a later "no thanks" is about another offer.
            if level and customer.interest_level != "converted" and level != customer.interest_level:
                customer.interest_level = level
                customer.is_converted = level == "converted"
                result.customer_fields |= {"interest_level", "is_converted"}
                result.records.append({"type": "set_interest_level", "level": level})
        elif isinstance(action, llm.RecordObjection):
            customer.objections = [
                *(customer.objections or []),
                {
                    "key": action.key,
                    "text": action.text or (utterance or ""),
                    "at": timezone.now().isoformat(),
                    "call": str(call.pk),
                },
            ][-50:]
            result.customer_fields.add("objections")
            result.records.append({"type": "record_objection", "key": action.key})
        elif isinstance(action, llm.TransferToHuman):
            number = agent.client.transfer_phone_number
            if number:
                result.transfer_to = number
                result.records.append({"type": "transfer_to_human", "to": number, "reason": action.reason})
            else:
                result.extra_text = (
                    "There's no one free to take the call right now, so I'll make sure a colleague calls you back."
                )
                _book(
                    agent=agent,
                    call=call,
                    customer=customer,
                    result=result,
                    priority=1,
                    action=llm.ScheduleCallback(when=timezone.now(), reason="Asked to speak to a person"),
                )
                result.records.append({"type": "transfer_to_human", "to": "", "reason": "no transfer number set"})
        elif isinstance(action, llm.EndCall):
            result.end_outcome = result.end_outcome or action.outcome
            result.records.append({"type": "end_call", "outcome": action.outcome})
    if result.customer_fields:
        customer.save(update_fields=[*sorted(result.customer_fields), "updated_at"])
    return result


def _book(
    *,
    agent: AIAgent,
    call: CallSession,
    customer: CustomerProfile,
    action: llm.ScheduleCallback,
    result: AppliedActions,
    priority: int = 2,
) -> None:
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
        return
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
