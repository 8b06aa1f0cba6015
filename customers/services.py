"""Writes to customer profiles, and the one home of each customer rule (docs/rules.md)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone

from agents.models import AIAgent
from core.errors import Conflict, ValidationFailed
from core.phone import normalize_e164, timezone_for_number
from core.timezones import is_timezone_name
from customers.level_counts import customer_level_counts_forget, customer_level_counts_sync
from customers.models import CustomerProfile

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = {"name", "email", "timezone", "interest_level", "call_preference_time", "preferences", "phone_number"}


def _apply_level(customer: CustomerProfile, level: str) -> None:
    if level not in CustomerProfile.InterestLevel.values:
        raise ValidationFailed(f"'{level}' is not an interest level (cold, warm, hot, converted).")
    customer.interest_level = level
    customer.is_converted = level == CustomerProfile.InterestLevel.CONVERTED


def _check_timezone(value: str) -> None:
    if value and not is_timezone_name(value):
        raise ValidationFailed(f"'{value}' is not a known timezone (use an IANA name like America/New_York).")


def customer_create(
    *,
    agent: AIAgent,
    phone_number: str,
    name: str = "",
    email: str = "",
    timezone: str = "",
    interest_level: str = CustomerProfile.InterestLevel.COLD,
    call_preference_time: str = "",
    preferences: dict | None = None,
    note: str = "",
) -> CustomerProfile:
    """A new customer of ``agent``; the number is the identity, so a second one is a Conflict.

    The timezone defaults to the one the number pins down (never a guess), because the
    dialler refuses a customer whose local time it cannot know.
    """
    phone = normalize_e164(phone_number)
    _check_timezone(timezone)
    customer = CustomerProfile(
        ai_agent=agent,
        phone_number=phone,
        name=name.strip(),
        email=email.strip(),
        timezone=timezone or timezone_for_number(phone),
        call_preference_time=call_preference_time,
        preferences=preferences or {},
        conversation_notes=[customer_note(text=note, source="api")] if note.strip() else [],
    )
    _apply_level(customer, interest_level)
    try:
        with transaction.atomic():
            customer.save()
            customer_level_counts_sync(customer_ids=[customer.pk])
    except IntegrityError:
        raise Conflict(f"A customer with the number {phone} already exists.", code="customer_exists") from None
    return customer


def customer_get_or_create(*, agent: AIAgent, phone_number: str) -> tuple[CustomerProfile, bool]:
    """The profile for a number, created on first contact (an inbound caller, a dialled number)."""
    phone = normalize_e164(phone_number)
    existing = CustomerProfile.objects.filter(ai_agent=agent, phone_number=phone).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            customer = CustomerProfile.objects.create(
                ai_agent=agent, phone_number=phone, timezone=timezone_for_number(phone)
            )
            customer_level_counts_sync(customer_ids=[customer.pk])
            return customer, True
    except IntegrityError:  # created concurrently by another webhook
        return CustomerProfile.objects.get(ai_agent=agent, phone_number=phone), False


# What Twilio puts in From when the caller withholds their number (or the network has none).
WITHHELD_CALLER_IDS = frozenset({"", "anonymous", "restricted", "unknown", "blocked", "private", "unavailable"})
SPOKEN_DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip


def customer_for_caller(*, agent: AIAgent, caller_id: str) -> CustomerProfile:
    """The profile for an inbound caller: found or created by number, or a new anonymous one.

    A caller who withholds their number (or whose caller ID does not parse) is still answered;
    they get a profile of their own for this call, never merged with anyone else's, since
    nothing says two withheld callers are the same person.
    """
    raw = (caller_id or "").strip()
    if raw.lower() not in WITHHELD_CALLER_IDS:
        try:
            return customer_get_or_create(agent=agent, phone_number=raw)[0]
        except ValidationFailed:
            logger.info("Caller ID %r is not a phone number; the caller is treated as anonymous", raw[:32])
    with transaction.atomic():
        customer = CustomerProfile.objects.create(ai_agent=agent, phone_number="", is_anonymous=True)
        customer_level_counts_sync(customer_ids=[customer.pk])
    return customer


def spoken_phone_number(utterance: str, *, region: str) -> str | None:
    """The phone number in what a caller said ('it's 212 555 0123', 'two one two five five five...').

    Read the way a person in ``region`` would dial it; None when there is no valid number.
    """
    words = re.findall(r"\+|\d|[a-z]+", (utterance or "").lower())
    digits = "".join(SPOKEN_DIGITS.get(w, w) for w in words if w.isdigit() or w == "+" or w in SPOKEN_DIGITS)
    if len(digits.lstrip("+")) < 7:
        return None
    try:
        return normalize_e164(digits, default_region=region)
    except ValidationFailed:
        return None


def customer_capture_number(*, customer: CustomerProfile, phone_number: str) -> bool:
    """Give an anonymous caller the number they said, so they can be called back.

    Refused (False) when the agent already has a profile with that number: profiles are
    never merged on a caller's word.
    """
    if not customer.is_anonymous:
        return False
    phone = normalize_e164(phone_number)
    customer.phone_number = phone
    customer.is_anonymous = False
    customer.timezone = timezone_for_number(phone)
    try:
        with transaction.atomic():
            customer.save(update_fields=["phone_number", "is_anonymous", "timezone", "updated_at"])
    except IntegrityError:
        logger.info("An anonymous caller gave a number agent %s already has; not merged", customer.ai_agent_id)
        customer.phone_number, customer.is_anonymous, customer.timezone = "", True, ""
        return False
    return True


def customer_update(*, customer: CustomerProfile, note: str = "", **changes: Any) -> CustomerProfile:
    """Change what a person may edit; ``note`` is appended to the notes, never replacing them.

    Only the changed columns are written, so an edit made from the dashboard cannot undo
    counters or objections a call saved in the meantime. Do-not-call is not editable here:
    it has its own use case because opting out also cancels the customer's callbacks.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    if "phone_number" in changes:
        changes["phone_number"] = normalize_e164(changes["phone_number"])
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    for text_field in ("name", "email"):
        if text_field in changes:
            changes[text_field] = (changes[text_field] or "").strip()
    level = changes.pop("interest_level", None)
    fields = set(changes)
    for field, value in changes.items():
        setattr(customer, field, value)
    if level:
        _apply_level(customer, level)
        fields |= {"interest_level", "is_converted"}
    with transaction.atomic():
        if fields:
            try:
                with transaction.atomic():
                    customer.save(update_fields=[*sorted(fields), "updated_at"])
                    customer_level_counts_sync(customer_ids=[customer.pk])
            except IntegrityError:
                raise Conflict("Another customer already has that phone number.", code="customer_exists") from None
        customer_add_note(customer=customer, text=note, source="api")
    return customer


# --- the customer rules every door shares (docs/rules.md) ----------------------------------
# The engine's actions, the call-outcome service, the API and the dashboard all write these
# through the services below, so each rule is written once. Each reads the column it changes
# under the customer's row lock, so a call and a person acting at once never undo each other.

Level = CustomerProfile.InterestLevel
INTEREST_LADDER = {Level.COLD: 0, Level.WARM: 1, Level.HOT: 2, Level.CONVERTED: 3}
MAX_OBJECTIONS = 50  # the latest ones: enough for the agent's context, bounded for the JSON column
MAX_NOTES = 200
MAX_OBJECTION_KEY = 64
MAX_OBJECTION_TEXT = 500
MAX_NOTE_TEXT = 5000  # the longest note any door accepts (the call-outcome API)
DO_NOT_CALL_CANCEL_REASON = "The customer is on the do-not-call list."

# Opting out must cancel the customer's open callbacks, which live in ``callbacks``, an app
# above this one (DESIGN.md, layers): it hands its canceller in from ``CallbacksConfig.ready``.
CallbackCanceller = Callable[[CustomerProfile, str], int]
_callback_canceller: CallbackCanceller | None = None


def customer_opt_out_connect(*, cancel_open_callbacks: CallbackCanceller) -> None:
    """Give the opt-out the one thing it needs from above: cancelling a customer's open callbacks.

    Called once at start-up by the ``callbacks`` app (docs/adr/0013-customer-rules-home.md).
    """
    global _callback_canceller
    _callback_canceller = cancel_open_callbacks


def _locked(customer: CustomerProfile, field: str) -> Any:
    """``field`` as committed, read under the customer's row lock (the caller holds a transaction)."""
    return CustomerProfile.objects.select_for_update().values_list(field, flat=True).get(pk=customer.pk)


@dataclass(frozen=True)
class DoNotCallChange:
    customer: CustomerProfile
    callbacks_cancelled: int


@transaction.atomic
def customer_opt_out(*, customer: CustomerProfile, reason: str = DO_NOT_CALL_CANCEL_REASON) -> DoNotCallChange:
    """Put the customer on the do-not-call list: never dialled again, every open callback cancelled.

    Under the customer's row lock, which booking a callback takes too, so no booking slips in
    between marking and cancelling. ``reason`` is kept on the cancelled callbacks. Opting out
    again is harmless: it cancels whatever is still open.
    """
    if _callback_canceller is None:
        logger.error("customer_opt_out(%s): no callback canceller connected; is callbacks installed?", customer.pk)
        raise RuntimeError("customer_opt_out needs the callbacks app's canceller (CallbacksConfig.ready).")
    already = _locked(customer, "is_do_not_call")
    customer.is_do_not_call = True
    if not already:
        customer.save(update_fields=["is_do_not_call", "updated_at"])
        customer_level_counts_sync(customer_ids=[customer.pk])
    cancelled = _callback_canceller(customer, (reason or DO_NOT_CALL_CANCEL_REASON)[:300])
    return DoNotCallChange(customer=customer, callbacks_cancelled=cancelled)


@transaction.atomic
def customer_opt_in(*, customer: CustomerProfile) -> DoNotCallChange:
    """Take the customer off the do-not-call list. Cancelled callbacks stay cancelled: book new ones."""
    was_on = _locked(customer, "is_do_not_call")
    customer.is_do_not_call = False
    if was_on:
        customer.save(update_fields=["is_do_not_call", "updated_at"])
        customer_level_counts_sync(customer_ids=[customer.pk])
    return DoNotCallChange(customer=customer, callbacks_cancelled=0)


def interest_after_call(current: str, level: str, *, at_least: bool = False) -> str:
    """The interest level a call that showed ``level`` leaves the customer at.

    Converted stays converted: a later "no thanks" is about another offer (only a person
    editing the customer can take them down). With ``at_least`` the level only goes up (an
    interested caller who was hot stays hot).
    """
    if current == Level.CONVERTED:
        return current
    if at_least and INTEREST_LADDER.get(current, 0) >= INTEREST_LADDER[level]:
        return current
    return level


@transaction.atomic
def customer_raise_interest(*, customer: CustomerProfile, level: str, at_least: bool = False) -> bool:
    """Move the customer along the interest ladder by what a call showed; whether the level changed.

    The rule is :func:`interest_after_call`, applied to the level as committed (a call that
    converted the customer a moment ago is not undone by a stale copy).
    """
    if level not in INTEREST_LADDER:
        raise ValidationFailed(f"'{level}' is not an interest level (cold, warm, hot, converted).")
    current = _locked(customer, "interest_level")
    after = interest_after_call(current, level, at_least=at_least)
    if after == current:
        customer.interest_level, customer.is_converted = current, current == Level.CONVERTED
        return False
    _apply_level(customer, after)
    customer.save(update_fields=["interest_level", "is_converted", "updated_at"])
    customer_level_counts_sync(customer_ids=[customer.pk])
    return True


@transaction.atomic
def customer_record_objection(
    *, customer: CustomerProfile, key: str, text: str, call_id: str | None = None, at: datetime | None = None
) -> bool:
    """Remember an objection the customer raised; whether it was added.

    A call records each kind of objection once; the list keeps the latest ``MAX_OBJECTIONS``.
    """
    key = key.strip()[:MAX_OBJECTION_KEY]
    if not key:
        return False
    existing = _list_of(_locked(customer, "objections"))
    if call_id is not None and any(
        isinstance(o, dict) and o.get("call") == call_id and o.get("key") == key for o in existing
    ):
        customer.objections = existing
        return False
    entry = {
        "key": key,
        "text": text.strip()[:MAX_OBJECTION_TEXT],
        "at": (at or dj_timezone.now()).isoformat(),
        "call": call_id,
    }
    customer.objections = [*existing, entry][-MAX_OBJECTIONS:]
    customer.save(update_fields=["objections", "updated_at"])
    return True


def customer_note(*, text: str, source: str, at: datetime | None = None, call_id: str | None = None) -> dict:
    """One entry of ``conversation_notes``: the one shape every door (and CSV import) writes."""
    note = {"at": (at or dj_timezone.now()).isoformat(), "text": text.strip()[:MAX_NOTE_TEXT], "source": source}
    if call_id is not None:
        note["call"] = call_id
    return note


def notes_appended(notes: Any, note: dict) -> list:
    """``notes`` with ``note`` at the end, keeping the latest ``MAX_NOTES`` (for CSV import's bulk writes)."""
    return [*_list_of(notes), note][-MAX_NOTES:]


@transaction.atomic
def customer_add_note(
    *, customer: CustomerProfile, text: str, source: str, call_id: str | None = None, at: datetime | None = None
) -> bool:
    """Append a note (blank ones are ignored); whether it was added.

    Notes are only ever appended, never replaced; the same text from the same call is kept
    once (a repeated outcome request adds nothing), and the list keeps the latest ``MAX_NOTES``.
    """
    if not text.strip():
        return False
    note = customer_note(text=text, source=source, at=at, call_id=call_id)
    existing = _list_of(_locked(customer, "conversation_notes"))
    if call_id is not None and any(
        isinstance(n, dict) and n.get("call") == call_id and n.get("text") == note["text"] for n in existing
    ):
        customer.conversation_notes = existing
        return False
    customer.conversation_notes = notes_appended(existing, note)
    customer.save(update_fields=["conversation_notes", "updated_at"])
    return True


def _list_of(value: Any) -> list:
    # JSON columns the admin (or old rows) may hold as something else: start a fresh list then.
    return list(value) if isinstance(value, list) else []


def customer_delete(*, customer: CustomerProfile) -> None:
    """Forget the customer; their callbacks and calls go with them (database cascade)."""
    with transaction.atomic():
        customer_level_counts_forget(customer=customer)
        customer.delete()


# 202-555-01xx: numbers reserved for fiction, so a persona never borrows a real person's number.
SIMULATED_NUMBER_PREFIX = "+120255501"


def customer_create_simulated(*, agent: AIAgent, name: str) -> CustomerProfile:
    """A fresh simulated customer for one persona call: marked, so it is never listed, dialled or learned from.

    Fresh for every call, so a persona never starts with the history (or the opt-out) of an
    earlier run; the number is the first free one of the fictional range, reused once freed.
    """
    taken = set(
        CustomerProfile.objects.filter(ai_agent=agent, phone_number__startswith=SIMULATED_NUMBER_PREFIX).values_list(
            "phone_number", flat=True
        )
    )
    free = [f"{SIMULATED_NUMBER_PREFIX}{n:02d}" for n in range(100) if f"{SIMULATED_NUMBER_PREFIX}{n:02d}" not in taken]
    if not free:
        raise Conflict("Every simulated number is in use; delete old simulation customers first.")
    phone = free[0]
    return CustomerProfile.objects.create(
        ai_agent=agent, phone_number=phone, name=name[:200], timezone=timezone_for_number(phone), is_simulated=True
    )
