"""The gateway through the real ``twilio`` client, over a socket, against a local fake Twilio.

Only the transport's base URL is swapped (https://api.twilio.com -> http://127.0.0.1:PORT), so
these tests see exactly the form fields and the basic-auth account Twilio would receive.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from twilio.http.http_client import TwilioHttpClient

from integrations.twilio import (
    CallRequest,
    PlacedCall,
    SentMessage,
    TelephonyError,
    TelephonyGateway,
    TelephonyUnavailable,
    TwilioCredentials,
    TwilioGateway,
    credentials_for,
)

PLATFORM = TwilioCredentials("ACplatform0000000000000000000000", "platform-token")
SUBACCOUNT = TwilioCredentials("ACsub00000000000000000000000000a", "sub-token")
TWILIO_API = "https://api.twilio.com"


@dataclass
class Received:
    method: str
    path: str
    auth: tuple[str, str]
    form: dict[str, list[str]]


@dataclass
class FakeTwilio:
    """A tiny HTTP server that records requests and answers with queued (status, body) pairs."""

    base_url: str
    received: list[Received] = field(default_factory=list)
    replies: list[tuple[int, dict | str]] = field(default_factory=list)

    def reply(self, status: int, body: dict | str) -> None:
        self.replies.append((status, body))


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            _scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
            user, _, password = base64.b64decode(encoded).decode().partition(":")
            fake.received.append(Received("POST", self.path, (user, password), parse_qs(body, keep_blank_values=True)))
            status, payload = fake.replies.pop(0)
            is_json = isinstance(payload, dict)
            data = (json.dumps(payload) if is_json else payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if is_json else "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


class LocalTransport(TwilioHttpClient):
    """The SDK's own transport, with Twilio's host replaced by a local one."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        assert url.startswith(TWILIO_API), url
        return super().request(method, self.base_url + url[len(TWILIO_API) :], *args, **kwargs)


def gateway(fake: FakeTwilio, credentials: TwilioCredentials = PLATFORM) -> TwilioGateway:
    return TwilioGateway(credentials, http_client=LocalTransport(fake.base_url))


def call_request(**overrides: object) -> CallRequest:
    values: dict[str, object] = {
        "to": "+14155550123",
        "from_": "+14155550100",
        "url": "https://example.com/hooks/agt_1/voice",
        "status_callback": "https://example.com/hooks/agt_1/status",
        "amd_status_callback": "https://example.com/hooks/agt_1/amd",
        "recording_status_callback": "https://example.com/hooks/agt_1/recording",
        "fallback_url": "https://example.com/hooks/agt_1/fallback",
    }
    return CallRequest(**(values | overrides))  # type: ignore[arg-type]


CALL_CREATED = {"sid": "CA123", "status": "queued", "to": "+14155550123", "from": "+14155550100"}


def test_place_call_sends_every_callback_and_amd_parameter(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(201, CALL_CREATED)

    placed = gateway(fake_twilio).place_call(call_request())

    assert placed == PlacedCall(sid="CA123", status="queued", to="+14155550123", from_="+14155550100")
    [request] = fake_twilio.received
    assert request.path == f"/2010-04-01/Accounts/{PLATFORM.account_sid}/Calls.json"
    assert request.auth == (PLATFORM.account_sid, PLATFORM.auth_token)
    assert request.form == {
        "To": ["+14155550123"],
        "From": ["+14155550100"],
        "Url": ["https://example.com/hooks/agt_1/voice"],
        "Method": ["POST"],
        "StatusCallback": ["https://example.com/hooks/agt_1/status"],
        "StatusCallbackMethod": ["POST"],
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "MachineDetection": ["DetectMessageEnd"],
        "AsyncAmd": ["true"],
        "AsyncAmdStatusCallback": ["https://example.com/hooks/agt_1/amd"],
        "AsyncAmdStatusCallbackMethod": ["POST"],
        "Record": ["true"],
        "RecordingStatusCallback": ["https://example.com/hooks/agt_1/recording"],
        "RecordingStatusCallbackMethod": ["POST"],
        "Timeout": ["25"],
        "FallbackUrl": ["https://example.com/hooks/agt_1/fallback"],
        "FallbackMethod": ["POST"],
    }


def test_place_call_without_amd_or_recording_omits_their_parameters(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.reply(201, CALL_CREATED)

    gateway(fake_twilio).place_call(
        call_request(machine_detection=False, record=False, ring_timeout=15, fallback_url=None)
    )

    form = fake_twilio.received[0].form
    assert form["Record"] == ["false"]
    assert form["Timeout"] == ["15"]
    for absent in (
        "MachineDetection",
        "AsyncAmd",
        "AsyncAmdStatusCallback",
        "RecordingStatusCallback",
        "FallbackUrl",
    ):
        assert absent not in form


def test_the_clients_subaccount_is_used_when_it_has_one(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(201, CALL_CREATED)
    credentials = credentials_for(
        SUBACCOUNT.account_sid, SUBACCOUNT.auth_token, PLATFORM.account_sid, PLATFORM.auth_token
    )
    assert credentials == SUBACCOUNT

    gateway(fake_twilio, credentials).place_call(call_request())

    [request] = fake_twilio.received
    assert request.auth == (SUBACCOUNT.account_sid, SUBACCOUNT.auth_token)
    assert request.path == f"/2010-04-01/Accounts/{SUBACCOUNT.account_sid}/Calls.json"


def test_credentials_fall_back_to_the_platform_then_to_none() -> None:
    sid, token = PLATFORM.account_sid, PLATFORM.auth_token
    assert credentials_for(None, None, sid, token) == PLATFORM
    assert credentials_for("ACsub", "", sid, token) == PLATFORM  # half a subaccount is none
    assert credentials_for("", "", None, None) is None
    assert "platform-token" not in repr(PLATFORM)
    with pytest.raises(ValueError):
        TwilioCredentials("", "token")


def test_an_invalid_number_becomes_a_telephony_error_with_a_clear_reason(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.reply(
        400,
        {
            "code": 21211,
            "message": "The 'To' number +1555 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        },
    )

    with pytest.raises(TelephonyError) as caught:
        gateway(fake_twilio).place_call(call_request(to="+1555"))

    error = caught.value
    assert type(error) is TelephonyError
    assert (error.code, error.status) == (21211, 400)
    assert error.message == "The 'To' number +1555 is not a valid phone number."
    assert error.user_message == "The 'To' number is not a valid phone number."
    assert not error.retryable


def test_a_problem_details_error_becomes_a_telephony_error(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(
        401,
        {
            "type": "https://www.twilio.com/docs/errors/20003",
            "title": "Authentication Error",
            "status": 401,
            "code": 20003,
            "detail": "Invalid username or password.",
        },
    )

    with pytest.raises(TelephonyError) as caught:
        gateway(fake_twilio).send_sms("+14155550123", "+14155550100", "hi")

    assert (caught.value.code, caught.value.status) == (20003, 401)
    assert caught.value.message == "Invalid username or password."
    assert "authentication failed" in caught.value.user_message


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (503, 20500)], ids=["rate-limited", "twilio-down"])
def test_overload_answers_are_transient(fake_twilio: FakeTwilio, status: int, code: int) -> None:
    fake_twilio.reply(status, {"code": code, "message": "try later", "status": status})

    with pytest.raises(TelephonyUnavailable) as caught:
        gateway(fake_twilio).place_call(call_request())

    assert (caught.value.code, caught.value.status) == (code, status)
    assert caught.value.retryable


def test_a_gateway_error_page_is_transient_without_a_made_up_code(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(502, "<html><body>Bad Gateway</body></html>")

    with pytest.raises(TelephonyUnavailable) as caught:
        gateway(fake_twilio).place_call(call_request())

    assert (caught.value.code, caught.value.status) == (None, 502)


def test_hangup_completes_the_call(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(200, {"sid": "CA123", "status": "completed"})

    assert gateway(fake_twilio).hangup("CA123") is None

    [request] = fake_twilio.received
    assert request.path == f"/2010-04-01/Accounts/{PLATFORM.account_sid}/Calls/CA123.json"
    assert request.form == {"Status": ["completed"]}


def test_hanging_up_a_call_that_already_ended_is_not_an_error(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(400, {"code": 21220, "message": "Call is not in-progress.", "status": 400})

    gateway(fake_twilio).hangup("CA123")


def test_send_sms(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(201, {"sid": "SM123", "status": "queued"})

    sent = gateway(fake_twilio).send_sms(
        "+14155550123", "+14155550100", "See you at 3 pm & thanks!", "https://example.com/sms"
    )

    assert sent == SentMessage(sid="SM123", status="queued")
    [request] = fake_twilio.received
    assert request.path == f"/2010-04-01/Accounts/{PLATFORM.account_sid}/Messages.json"
    assert request.form == {
        "To": ["+14155550123"],
        "From": ["+14155550100"],
        "Body": ["See you at 3 pm & thanks!"],
        "StatusCallback": ["https://example.com/sms"],
    }


def test_a_server_that_never_answers_is_unavailable_quickly() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts the connection in the kernel, never answers
    try:
        transport = LocalTransport(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TelephonyUnavailable) as caught:
            TwilioGateway(PLATFORM, http_client=transport).place_call(call_request())
        assert time.monotonic() - started < 3
    finally:
        silent.close()

    assert caught.value.status == 0
    assert caught.value.retryable
    assert "could not be reached" in caught.value.user_message


def test_a_refused_connection_is_unavailable() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens on this port now

    transport = LocalTransport(f"http://127.0.0.1:{port}", timeout=1)
    with pytest.raises(TelephonyUnavailable):
        TwilioGateway(PLATFORM, http_client=transport).hangup("CA123")


def test_the_gateway_satisfies_the_protocol_the_simulated_phone_implements() -> None:
    assert isinstance(TwilioGateway(PLATFORM), TelephonyGateway)
