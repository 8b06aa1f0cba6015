"""May this customer be called now, and if not, when next?

Rules (each protects the customer or the client):
- a simulated customer (a persona of a simulation run) is never dialled;
- a customer on the do-not-call list is never dialled;
- the agent must be trained to at least 20 % and not paused;
- calls happen between 08:00 and 21:00 in the *customer's* local time, and an unknown
  timezone is not guessed: the call is refused with that reason;
- and inside the agent's working hours, read in the client's timezone.
Attempt limits and the client's daily limit are counted where those rows live (callbacks, calls).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents.models import CALL_WINDOW_END, CALL_WINDOW_START, LEARNING_THRESHOLD, AIAgent
from core.errors import CallNotAllowed
from customers.models import CustomerProfile

SEARCH_DAYS = 9


def customer_zone(customer: CustomerProfile) -> ZoneInfo | None:
    """The customer's zone, or None when it is unknown.

    A stored name the server does not know (saved around the validators, or dropped from
    the tz database) counts as unknown: the call is refused with a reason, never a crash.
    """
    if not customer.timezone:
        return None
    try:
        return ZoneInfo(customer.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def booking_zone(customer: CustomerProfile, agent: AIAgent) -> ZoneInfo:
    """The zone a time the customer *said* is read in: theirs, else the business's.

    Only for booking what a caller asked for ("call me tomorrow at 3"); dialling someone
    whose zone is unknown is still refused by :func:`check_call_allowed`.
    """
    return customer_zone(customer) or ZoneInfo(agent.client.timezone)


def _inside(at: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    local = at.astimezone(zone).time()
    return start <= local < end


def is_allowed_time(*, agent: AIAgent, zone: ZoneInfo, at: datetime) -> bool:
    business = ZoneInfo(agent.client.timezone)
    return _inside(at, zone, CALL_WINDOW_START, CALL_WINDOW_END) and _inside(
        at, business, agent.working_hours_start, agent.working_hours_end
    )


def next_allowed_time(*, agent: AIAgent, zone: ZoneInfo, at: datetime) -> datetime | None:
    """The earliest moment at or after ``at`` inside both windows, or None within 9 days.

    The allowed moments are a union of intervals whose left ends are either ``at`` or a
    window opening (08:00 customer-local, working-hours start business-local), so checking
    those candidates in order finds the answer without stepping through the clock.
    """
    business = ZoneInfo(agent.client.timezone)
    candidates = [at]
    for days in range(-1, SEARCH_DAYS):
        for tz, opening in ((zone, CALL_WINDOW_START), (business, agent.working_hours_start)):
            day = (at.astimezone(tz) + timedelta(days=days)).date()
            candidates.append(datetime.combine(day, opening, tzinfo=tz))
    for candidate in sorted(c for c in candidates if c >= at):
        if is_allowed_time(agent=agent, zone=zone, at=candidate):
            return candidate
    return None


def check_call_allowed(*, agent: AIAgent, customer: CustomerProfile, at: datetime) -> None:
    """Raise CallNotAllowed (with the reason and the next allowed time) unless a call may start at ``at``."""
    if customer.is_simulated:
        raise CallNotAllowed("This is a simulated customer of a persona test; it is never dialled.", code="simulated")
    if not customer.phone_number:
        raise CallNotAllowed(
            "We have no number for this customer: they called with their number withheld.", code="no_number"
        )
    if customer.is_do_not_call:
        raise CallNotAllowed("The customer is on the do-not-call list.", code="do_not_call")
    if agent.status == AIAgent.Status.PAUSED:
        raise CallNotAllowed("The agent is paused.", code="agent_paused")
    if agent.training_level < LEARNING_THRESHOLD:
        raise CallNotAllowed(
            f"The agent is trained to {agent.training_level}%; it needs at least {LEARNING_THRESHOLD}% to make calls.",
            code="agent_not_trained",
        )
    zone = customer_zone(customer)
    if zone is None:
        raise CallNotAllowed(
            "The customer's timezone is unknown, so we cannot tell whether it is a decent hour for them. "
            "Set the customer's timezone first.",
            code="timezone_unknown",
        )
    if not is_allowed_time(agent=agent, zone=zone, at=at):
        local = at.astimezone(zone)
        raise CallNotAllowed(
            f"It is {local:%H:%M} for the customer ({zone.key}); calls are allowed 08:00-21:00 customer time "
            f"and within the agent's working hours ({agent.working_hours_start:%H:%M}-{agent.working_hours_end:%H:%M} "
            f"{agent.client.timezone}).",
            next_allowed_at=next_allowed_time(agent=agent, zone=zone, at=at),
            code="outside_calling_hours",
        )


def note_preferred_time(*, customer: CustomerProfile, agent: AIAgent, asked_for: datetime) -> bool:
    """A customer who asks to be called at a time prefers that time of day (read in their zone).

    Sets ``call_preference_time`` on ``customer`` (the caller saves it) unless one is set
    already (by a person, or an earlier request); returns whether it changed.
    """
    if customer.call_preference_time:
        return False
    hour = asked_for.astimezone(booking_zone(customer, agent)).hour
    if hour < 12:
        customer.call_preference_time = CustomerProfile.PreferredTime.MORNING
    elif hour < 17:
        customer.call_preference_time = CustomerProfile.PreferredTime.AFTERNOON
    else:
        customer.call_preference_time = CustomerProfile.PreferredTime.EVENING
    return True
