"""``engine.call_turn_answer``: the ``<Gather>`` turn, transport-free (the engine's streaming turn collected)."""

from __future__ import annotations

import pytest
import time_machine

from calls.engine import TurnAnswer, call_turn_answer, render_turn
from calls.models import CallTurn

pytestmark = pytest.mark.django_db
MONDAY_10AM = "2026-11-23 15:00:00+00:00"  # 10:00 in New York


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_caller_sentence_gets_the_stored_answer_and_a_repeat_replays_it(twilio_sim):
    twilio_sim.incoming()
    agent = twilio_sim.agent

    answer = call_turn_answer(agent=agent, call_sid=twilio_sim.call_sid, utterance="Is my roof suitable?", turn=1)

    stored = CallTurn.objects.get(call__twilio_call_sid=twilio_sim.call_sid, sequence=2)
    assert answer == TurnAnswer(text=stored.text, sequence=2) and answer.text
    again = call_turn_answer(agent=agent, call_sid=twilio_sim.call_sid, utterance="Is my roof suitable?", turn=1)
    assert again == answer
    assert CallTurn.objects.filter(call__twilio_call_sid=twilio_sim.call_sid).count() == 3
    assert render_turn(agent=agent, turn=stored).count("?n=3") == 2  # the <Gather> action and its redirect


@time_machine.travel(MONDAY_10AM, tick=False)
def test_another_clients_call_is_unknown_and_nothing_is_stored(twilio_sim, agent_b):
    twilio_sim.incoming()

    answer = call_turn_answer(agent=agent_b, call_sid=twilio_sim.call_sid, utterance="Hello?", turn=1)

    assert answer.unknown_call and answer.sequence is None
    assert CallTurn.objects.filter(call__twilio_call_sid=twilio_sim.call_sid).count() == 1
