"""Reads the voice endpoints need, scoped to the agent."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import NamedTuple

from django.db import connection

from accounts.models import Client
from agents.models import AIAgent
from callbacks.models import ScheduledCallback
from calls.models import CallSession, CallTurn
from core.errors import NotFound
from core.rows import ModelColumns
from customers.models import CustomerProfile


class TranscriptLine(NamedTuple):
    """A stored turn as the engine reads it: plain values, no model instance per line."""

    sequence: int
    speaker: str
    text: str
    actions: list


class LiveCall(NamedTuple):
    """A call in progress: ``call.ai_agent`` (with its client) and
    ``call.customer_profile`` are loaded, and ``transcript`` is every stored turn in order."""

    call: CallSession
    transcript: list[TranscriptLine]


def call_by_sid(*, agent: AIAgent, call_sid: str) -> CallSession:
    """Another client's call is "not found", exactly like a missing one."""
    call = (
        CallSession.objects.select_related("customer_profile").filter(ai_agent=agent, twilio_call_sid=call_sid).first()
    )
    if call is None:
        raise NotFound("Call not found.")
    return call


_CALL = ModelColumns(CallSession, "c")
_AGENT = ModelColumns(AIAgent, "a")
_CLIENT = ModelColumns(Client, "cl")
_CUSTOMER = ModelColumns(CustomerProfile, "p")
# The transcript comes back in the same statement, as one JSON array of [sequence, speaker,
# text, actions]; its order is set in Python, so the SQL needs no ORDER BY.
_TRANSCRIPT = {
    "postgresql": "json_agg(json_build_array(t.sequence, t.speaker, t.text, t.actions))",
    "sqlite": "json_group_array(json_array(t.sequence, t.speaker, t.text, json(t.actions)))",
}


@lru_cache(maxsize=4)
def _live_call_sql(vendor: str) -> str:
    # Only table and column names from the models are formatted in; values are parameters.
    return (
        f"SELECT {_CALL.sql()}, {_AGENT.sql()}, {_CLIENT.sql()}, {_CUSTOMER.sql()}, "  # noqa: S608
        f"(SELECT {_TRANSCRIPT[vendor]} FROM {CallTurn._meta.db_table} t WHERE t.call_id = c.id) "
        f"FROM {CallSession._meta.db_table} c "
        f"JOIN {AIAgent._meta.db_table} a ON a.id = c.ai_agent_id "
        f"JOIN {Client._meta.db_table} cl ON cl.id = a.client_id "
        f"JOIN {CustomerProfile._meta.db_table} p ON p.id = c.customer_profile_id "
        f"WHERE c.twilio_call_sid = %s AND a.public_id = %s"
    )


def live_call(*, agent_public_id, call_sid: str) -> LiveCall | None:
    """The call with its agent, client, customer and transcript, in one statement.

    The conversation turn's only read, on every turn of every call: it is written once in
    SQL because compiling the equivalent ORM query (four tables, ~100 columns) took longer
    than PostgreSQL took to run it (bench/turn_latency.py). The caller checks the webhook
    signature with the client's token from this row before writing anything.
    """
    if not call_sid or len(call_sid) > 64:
        return None
    public_id = AIAgent._meta.get_field("public_id").get_db_prep_value(agent_public_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_live_call_sql(connection.vendor), [call_sid, public_id])
        row = cursor.fetchone()
    if row is None:
        return None
    start = 0
    parts = []
    for columns in (_CALL, _AGENT, _CLIENT, _CUSTOMER):
        parts.append(columns.build(row, start))
        start += columns.width
    call, agent, client, customer = parts
    agent.client = client
    call.ai_agent = agent
    call.customer_profile = customer
    return LiveCall(call, _transcript(row[start]))


def _transcript(value) -> list[TranscriptLine]:
    lines = json.loads(value) if isinstance(value, str | bytes) else value or []
    return sorted(TranscriptLine(*line) for line in lines)


class EarlierConversation(NamedTuple):
    """The customer's last conversation before this call, for the agent's memory across calls."""

    call: CallSession
    transcript: list[TranscriptLine]
    callback: ScheduledCallback | None  # the callback this call keeps, when it keeps one


def earlier_conversation(*, agent: AIAgent, call: CallSession, customer: CustomerProfile) -> EarlierConversation | None:
    """The call this one follows on from: the call a callback was booked on, else the last answered one.

    Read once, when the call begins (its greeting), never on an ordinary turn: at most three
    small statements, and none for a customer the agent has never spoken to.
    """
    callback = None
    earlier = None
    if call.callback_id:
        callback = (
            ScheduledCallback.objects.select_related("source_call").filter(pk=call.callback_id, ai_agent=agent).first()
        )
        source = callback.source_call if callback and callback.source_call_id else None
        if source is not None and source.answered_at is not None and source.customer_profile_id == customer.pk:
            earlier = source
    elif not customer.total_calls:
        return None
    if earlier is None:
        earlier = (
            CallSession.objects.filter(ai_agent=agent, customer_profile=customer, answered_at__isnull=False)
            .exclude(pk=call.pk)
            .order_by("-started_at")
            .first()
        )
    if earlier is None:
        return None
    rows = (
        CallTurn.objects.filter(call=earlier).order_by("sequence").values_list("sequence", "speaker", "text", "actions")
    )
    return EarlierConversation(earlier, [TranscriptLine(*row) for row in rows], callback)
