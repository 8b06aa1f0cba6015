"""Writes to customer profiles."""

from __future__ import annotations

import logging
import re
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
    if note.strip():
        customer.conversation_notes = [*_notes_of(customer), customer_note(text=note, source="api")]
        fields.add("conversation_notes")
    if not fields:
        return customer
    try:
        with transaction.atomic():
            customer.save(update_fields=[*sorted(fields), "updated_at"])
            customer_level_counts_sync(customer_ids=[customer.pk])
    except IntegrityError:
        raise Conflict("Another customer already has that phone number.", code="customer_exists") from None
    return customer


def customer_set_interest(*, customer: CustomerProfile, level: str) -> CustomerProfile:
    _apply_level(customer, level)
    with transaction.atomic():
        customer.save(update_fields=["interest_level", "is_converted", "updated_at"])
        customer_level_counts_sync(customer_ids=[customer.pk])
    return customer


def customer_mark_do_not_call(*, customer: CustomerProfile, do_not_call: bool = True) -> CustomerProfile:
    """A customer on the do-not-call list is never dialled again (callbacks check it too)."""
    customer.is_do_not_call = do_not_call
    with transaction.atomic():
        customer.save(update_fields=["is_do_not_call", "updated_at"])
        customer_level_counts_sync(customer_ids=[customer.pk])
    return customer


def customer_delete(*, customer: CustomerProfile) -> None:
    """Forget the customer; their callbacks and calls go with them (database cascade)."""
    with transaction.atomic():
        customer_level_counts_forget(customer=customer)
        customer.delete()


def customer_note(*, text: str, source: str, at: datetime | None = None) -> dict:
    """One entry of ``conversation_notes``; the shape calls, the API and CSV import share."""
    return {"at": (at or dj_timezone.now()).isoformat(), "text": text.strip(), "source": source}


def _notes_of(customer: CustomerProfile) -> list:
    notes = customer.conversation_notes
    return list(notes) if isinstance(notes, list) else []


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
