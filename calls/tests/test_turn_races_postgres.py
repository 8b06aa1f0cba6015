"""Twilio delivering one turn (or one incoming call) twice at the same moment, on PostgreSQL.

A turn holds no lock while the provider thinks, so two deliveries of the same webhook can both
read the call and both reply. The unique (call, sequence) key settles it: one delivery stores
its turns and actions, the other's insert fails, everything it did is rolled back, and it
answers the caller with what the first one stored. The provider is wrapped (not replaced) so
that both deliveries have read the call before either writes: the race happens every run.
Skipped on SQLite, whose writers do not run side by side.
"""

from __future__ import annotations

import threading

import pytest
import time_machine
from django.db import connection, connections
from django.test import Client

from callbacks.models import ScheduledCallback
from calls import engine, turns
from calls.models import CallSession, CallTurn
from calls.tests.conftest import TwilioSim

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): concurrent writers")


@pytest.fixture
def both_read_before_either_writes(monkeypatch):
    """Call it to make the next two replies wait for each other before anything is stored."""
    barrier = threading.Barrier(2, timeout=20)
    real = engine.conversation_provider

    class Rendezvous:
        def stream_reply(self, context, *, live=True):
            items = list(real().stream_reply(context, live=live))
            barrier.wait()
            yield from items

    def rendezvous() -> None:
        monkeypatch.setattr(engine, "conversation_provider", lambda: Rendezvous())
        monkeypatch.setattr(turns, "conversation_provider", lambda: Rendezvous())

    return rendezvous


def _deliver_twice(agent, call_sid: str, send) -> list:
    responses: list = [None, None]
    errors: list[BaseException] = []

    def deliver(index: int) -> None:
        try:
            sim = TwilioSim(Client(), agent)
            sim.call_sid = call_sid
            responses[index] = send(sim)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return responses


@time_machine.travel("2025-06-02 10:00:00-04:00", tick=True)
@pytest.mark.parametrize(
    ("utterance", "callbacks"),
    [
        ("Is my roof suitable?", 0),  # a reply that only talks: one INSERT of its own
        ("I'm busy, call me back tomorrow at 3pm", 1),  # a reply that books: its own transaction
    ],
)
def test_a_turn_delivered_twice_at_once_is_answered_the_same_and_stored_once(
    twilio_sim, both_read_before_either_writes, utterance, callbacks
):
    twilio_sim.incoming()
    call = CallSession.objects.get(twilio_call_sid=twilio_sim.call_sid)
    both_read_before_either_writes()

    first, second = _deliver_twice(twilio_sim.agent, twilio_sim.call_sid, lambda sim: sim.say(utterance, n=1))

    assert first.status_code == second.status_code == 200
    assert first.content == second.content, "the caller hears the stored answer from either delivery"
    assert list(CallTurn.objects.filter(call=call).values_list("sequence", "speaker")) == [
        (0, "agent"),
        (1, "caller"),
        (2, "agent"),
    ]
    assert ScheduledCallback.objects.filter(customer_profile=call.customer_profile).count() == callbacks


def test_a_call_ringing_in_twice_at_once_is_one_call_with_one_greeting(twilio_sim, both_read_before_either_writes):
    both_read_before_either_writes()

    first, second = _deliver_twice(twilio_sim.agent, twilio_sim.call_sid, lambda sim: sim.incoming())

    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    call = CallSession.objects.get(twilio_call_sid=twilio_sim.call_sid)
    assert list(CallTurn.objects.filter(call=call).values_list("sequence", flat=True)) == [0]
