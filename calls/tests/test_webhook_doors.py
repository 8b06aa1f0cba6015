"""The webhook doors' failures and input bounds, through signed requests as Twilio sends them.

A caller always hears polite TwiML that ends the call; a callback nobody hears answers 5xx
so Twilio's debugger shows it and its retries can act; values out of range never reach a row.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import OperationalError
from django.urls import reverse

from calls.models import CallSession, CallTurn

pytestmark = pytest.mark.django_db
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/New_York"))
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Recordings/RE" + "1" * 32


def verbs(response) -> set[str]:
    assert response["Content-Type"].startswith("text/xml")
    return {e.tag for e in ET.fromstring(response.content).iter()}


def call_of(sim) -> CallSession:
    return CallSession.objects.get(twilio_call_sid=sim.call_sid)


def record(sim, url: str, duration: str = "30"):
    return sim.post(
        "recording",
        {"CallSid": sim.call_sid, "RecordingUrl": url, "RecordingDuration": duration, "RecordingStatus": "completed"},
    )


# Finding 1: integers past the column's range are dropped with a warning, never stored wrapped.


@time_machine.travel(MONDAY_10AM, tick=False)
@pytest.mark.parametrize("huge", ["2147483648", "4294967297", "9223372036854775808", "-1"])
def test_a_sequence_number_past_its_column_is_ignored_and_later_events_still_apply(twilio_sim, huge, caplog):
    twilio_sim.incoming()
    with caplog.at_level(logging.WARNING, logger="calls.webhook_params"):
        response = twilio_sim.post(
            "status", {"CallSid": twilio_sim.call_sid, "CallStatus": "in-progress", "SequenceNumber": huge}
        )
    assert response.status_code == 204
    assert call_of(twilio_sim).status_sequence == -1  # nothing stored, least of all a wrapped number
    assert twilio_sim.call_sid in caplog.text and "SequenceNumber" in caplog.text
    twilio_sim.status("completed", seq=1, duration=42)  # the real next event is not mistaken for an old one
    call = call_of(twilio_sim)
    assert (call.status, call.status_sequence, call.duration_seconds) == ("completed", 1, 42)


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_call_duration_past_its_column_is_not_stored(twilio_sim):
    twilio_sim.incoming()
    assert twilio_sim.status("completed", seq=3, duration=4294967297).status_code == 204
    call = call_of(twilio_sim)
    assert call.status == "completed" and call.duration_seconds is None


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_recording_duration_past_its_column_is_not_stored_but_the_recording_is(twilio_sim):
    twilio_sim.incoming()
    assert record(twilio_sim, RECORDING, duration="2147483648").status_code == 204
    call = call_of(twilio_sim)
    assert call.recording_url == RECORDING and call.recording_duration is None


# Finding 7: only https recordings on Twilio's API host are kept.


@time_machine.travel(MONDAY_10AM, tick=False)
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "http://api.twilio.com/2010-04-01/Recordings/RE1",
        "https://evil.example.com/api.twilio.com/RE1",
        "https://api.twilio.com.evil.example.com/RE1",
        "https://user@api.twilio.com/RE1",
        "https://api.twilio.com:8443/RE1",
        "//api.twilio.com/RE1",
    ],
)
def test_a_recording_url_off_twilio_is_ignored_and_never_rendered(twilio_sim, client, user_a, url, caplog):
    twilio_sim.incoming()
    with caplog.at_level(logging.WARNING, logger="calls.webhook_params"):
        assert record(twilio_sim, url).status_code == 204
    call = call_of(twilio_sim)
    assert call.recording_url == ""
    assert twilio_sim.call_sid in caplog.text
    client.force_login(user_a)
    page = client.get(reverse("dashboard:call-detail", args=[call.pk]))
    assert page.status_code == 200 and url.encode() not in page.content


@time_machine.travel(MONDAY_10AM, tick=False)
@pytest.mark.parametrize("host", ["api.twilio.com", "api.dublin.ie1.twilio.com", "api.sydney.au1.twilio.com"])
def test_a_recording_on_a_twilio_api_host_is_kept(twilio_sim, host):
    twilio_sim.incoming()
    url = RECORDING.replace("api.twilio.com", host)
    record(twilio_sim, url)
    assert call_of(twilio_sim).recording_url == url


# Finding 10 (part): malformed call sids are refused; a turn needs its number.


@pytest.mark.parametrize("sid", ["CA" + "a" * 9998, "CA" + "a" * 33, "CA" + "A" * 32, "XX" + "a" * 32, "CA123"])
def test_a_malformed_call_sid_is_refused_and_creates_nothing(twilio_sim, sid):
    twilio_sim.call_sid = sid
    response = twilio_sim.incoming()
    assert response.status_code == 400 and "Hangup" in verbs(response)
    assert twilio_sim.post("status", {"CallSid": sid, "CallStatus": "completed"}).status_code == 400
    assert not CallSession.objects.exists()


@time_machine.travel(MONDAY_10AM, tick=False)
@pytest.mark.parametrize("query", [{}, {"n": ""}, {"n": "abc"}, {"n": "0"}, {"n": "2147483648"}, {"n": "-3"}])
def test_a_turn_without_a_valid_turn_number_is_refused_politely_and_writes_nothing(twilio_sim, query):
    twilio_sim.incoming()
    before = CallTurn.objects.count()
    params = {"CallSid": twilio_sim.call_sid, "CallStatus": "in-progress", "SpeechResult": "How much is it?"}
    for _ in range(2):  # a webhook Twilio delivers twice must not become two turns
        response = twilio_sim.post("turn", params, query=query)
        assert response.status_code == 400 and "Hangup" in verbs(response)
    assert CallTurn.objects.count() == before


# Issue 10, part 3: a bug is never silence.


@time_machine.travel(MONDAY_10AM, tick=False)
@pytest.mark.parametrize("name", ["status", "recording", "amd"])
def test_a_bug_in_a_callback_answers_500_and_logs_the_call_sid(twilio_sim, monkeypatch, caplog, name):
    from calls import lifecycle

    twilio_sim.incoming()

    def broken(**kwargs):
        raise RuntimeError("a bug")

    for service in ("call_status_update", "call_recording_update", "call_amd_result"):
        monkeypatch.setattr(lifecycle, service, broken)
    params = {"CallSid": twilio_sim.call_sid, "CallStatus": "completed", "SequenceNumber": "3"}
    params |= {"RecordingUrl": RECORDING, "AnsweredBy": "machine_end_beep"}
    with caplog.at_level(logging.ERROR, logger="calls.webhooks"):
        response = twilio_sim.post(name, params)
    assert response.status_code == 500
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert twilio_sim.call_sid in failure.getMessage() and failure.exc_info is not None


@time_machine.travel(MONDAY_10AM, tick=False)
def test_a_bug_in_a_spoken_webhook_is_polite_twiml_and_logs_the_call_sid(twilio_sim, monkeypatch, caplog):
    from calls import engine

    twilio_sim.incoming()
    monkeypatch.setattr(engine, "call_turn", lambda **kwargs: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="calls.webhooks"):
        response = twilio_sim.say("Hello?", n=1)
    assert response.status_code == 200 and "Hangup" in verbs(response)
    assert twilio_sim.call_sid in caplog.text and "ZeroDivisionError" in caplog.text


# Finding 2, in process (the real outage is in test_outage_postgres.py).


def _database_down(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def test_a_database_outage_ends_a_call_politely_and_answers_callbacks_503(twilio_sim, monkeypatch, caplog):
    from calls import webhooks

    monkeypatch.setattr(webhooks, "agent_by_public_id", _database_down)  # the first read of every webhook
    with caplog.at_level(logging.ERROR, logger="calls.webhooks"):
        spoken = [twilio_sim.incoming(), twilio_sim.post("answered", {"CallSid": twilio_sim.call_sid})]
        spoken.append(twilio_sim.say("Hello?", n=1))
        callbacks = [twilio_sim.post(name, {"CallSid": twilio_sim.call_sid}) for name in ("status", "recording", "amd")]
    for response in spoken:
        assert response.status_code == 200 and "Hangup" in verbs(response)
    assert [r.status_code for r in callbacks] == [503, 503, 503]
    assert caplog.text.count(twilio_sim.call_sid) == 6
