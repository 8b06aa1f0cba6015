"""Placing calls, hanging up and sending SMS through Twilio's REST API.

Everything the rest of the project sees is a frozen dataclass or a :mod:`.errors` exception;
``twilio`` SDK objects never leave this module. Nothing is read from Django settings or the
environment: the caller hands in the credentials of the account to act for (a client's
subaccount, or the platform's account), see :func:`credentials_for`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

import requests
import urllib3
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from integrations.twilio.errors import NumberNotOnAccount, TelephonyError, TelephonyUnavailable

# Well inside a Celery task's patience, and short enough that a stuck connection to Twilio
# never pins a worker; Twilio's REST API normally answers in well under a second.
DEFAULT_TIMEOUT_S = 10.0

# Every call-progress event, so a session's state follows the call as it happens.
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed")

_T = TypeVar("_T")


@dataclass(frozen=True)
class TwilioCredentials:
    """The account to act for: requests are authenticated and billed to ``account_sid``."""

    account_sid: str
    auth_token: str = field(repr=False)  # keep the token out of logs and tracebacks

    def __post_init__(self) -> None:
        # The SDK silently falls back to TWILIO_* environment variables for missing values;
        # refusing blanks here means a client's call can never run on another account.
        if not self.account_sid or not self.auth_token:
            raise ValueError("Twilio credentials need both an account SID and an auth token.")


@dataclass(frozen=True)
class CallRequest:
    """One outbound call. The callback URLs are required arguments (``None`` to opt out) so
    that forgetting one is a visible choice, not a session that never learns its outcome."""

    to: str
    from_: str
    url: str
    status_callback: str | None
    amd_status_callback: str | None
    recording_status_callback: str | None
    fallback_url: str | None
    ring_timeout: int = 25
    record: bool = True
    machine_detection: bool = True


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str
    to: str
    from_: str


@dataclass(frozen=True)
class FetchedCall:
    """A call as Twilio knows it now (its status in Twilio's words: ``in-progress``, ``no-answer``...)."""

    sid: str
    status: str
    duration: int | None
    answered_by: str


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


@dataclass(frozen=True)
class NumberWebhooks:
    """Where Twilio sends calls to one of our numbers, and the call's end."""

    voice_url: str
    voice_fallback_url: str
    status_callback: str


@dataclass(frozen=True)
class IncomingNumber:
    """An incoming phone number of the account, as Twilio holds it after our update."""

    sid: str
    phone_number: str
    voice_url: str
    voice_method: str
    voice_fallback_url: str
    voice_fallback_method: str
    status_callback: str
    status_callback_method: str


@dataclass(frozen=True)
class TwilioAccount:
    """The account a pair of credentials opens, as Twilio describes it."""

    sid: str
    friendly_name: str
    status: str


@dataclass(frozen=True)
class OwnedNumber:
    """A phone number the account owns (for a client to pick its agent's number)."""

    sid: str
    phone_number: str
    friendly_name: str


@runtime_checkable
class TelephonyGateway(Protocol):
    """What the calls app needs from a phone network: Twilio here, the simulated phone locally."""

    def place_call(self, req: CallRequest) -> PlacedCall: ...

    def hangup(self, call_sid: str) -> None: ...

    def update_twiml(self, call_sid: str, twiml: str) -> None: ...

    def send_sms(self, to: str, from_: str, body: str, status_callback: str | None = None) -> SentMessage: ...

    def configure_incoming_number(self, phone_number: str, webhooks: NumberWebhooks) -> IncomingNumber: ...


def credentials_for(
    subaccount_sid: str | None,
    subaccount_token: str | None,
    platform_sid: str | None,
    platform_token: str | None,
) -> TwilioCredentials | None:
    """The client's own subaccount when it has one, else the platform account, else ``None``.

    Both halves must be present to count: a subaccount SID with the platform's token would
    fail authentication, and ``None`` tells the caller to use the simulated phone.
    """
    if subaccount_sid and subaccount_token:
        return TwilioCredentials(subaccount_sid, subaccount_token)
    if platform_sid and platform_token:
        return TwilioCredentials(platform_sid, platform_token)
    return None


class TwilioGateway:
    """:class:`TelephonyGateway` over the official ``twilio`` client.

    ``http_client`` replaces the transport (tests point it at a local server); when given, it
    carries its own timeout and ``timeout`` is ignored. The default transport never retries:
    repeating a "create call" POST could dial a customer twice.
    """

    def __init__(
        self,
        credentials: TwilioCredentials,
        *,
        http_client: HttpClient | None = None,
        timeout: float | None = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.account_sid = credentials.account_sid
        self._client = Client(
            credentials.account_sid,
            credentials.auth_token,
            account_sid=credentials.account_sid,
            http_client=http_client or TwilioHttpClient(timeout=timeout),
            # A non-empty mapping stops the SDK from reading TWILIO_* (credentials, region,
            # edge) from os.environ: what we were handed is all that is used.
            environment={
                "TWILIO_ACCOUNT_SID": credentials.account_sid,
                "TWILIO_AUTH_TOKEN": credentials.auth_token,
            },
        )

    def place_call(self, req: CallRequest) -> PlacedCall:
        """Ask Twilio to dial ``req.to``; the outcome arrives later on the callbacks.

        Answering-machine detection runs asynchronously (``DetectMessageEnd``): the caller hears
        the agent at once instead of waiting seconds in silence, and when a machine answers the
        AMD callback fires after the greeting's beep, the right moment to leave a voicemail.
        """
        params: dict[str, object] = {
            "to": req.to,
            "from_": req.from_,
            "url": req.url,
            "method": "POST",
            "timeout": req.ring_timeout,
            "record": req.record,
        }
        if req.status_callback:
            params |= {
                "status_callback": req.status_callback,
                "status_callback_method": "POST",
                "status_callback_event": list(STATUS_CALLBACK_EVENTS),
            }
        if req.machine_detection:
            params |= {"machine_detection": "DetectMessageEnd", "async_amd": "true"}
            if req.amd_status_callback:
                params |= {
                    "async_amd_status_callback": req.amd_status_callback,
                    "async_amd_status_callback_method": "POST",
                }
        if req.record and req.recording_status_callback:
            params |= {
                "recording_status_callback": req.recording_status_callback,
                "recording_status_callback_method": "POST",
            }
        if req.fallback_url:
            params |= {"fallback_url": req.fallback_url, "fallback_method": "POST"}

        call = _translate(lambda: self._client.calls.create(**params))
        return PlacedCall(
            sid=call.sid,
            status=str(call.status or "queued"),
            to=call.to or req.to,
            from_=req.from_,  # Twilio refuses the call unless it uses exactly this caller ID
        )

    def hangup(self, call_sid: str) -> None:
        """End the call whatever its state (queued, ringing or in progress).

        Idempotent: a call that has already ended (Twilio error 21220) is what we wanted.
        """
        try:
            _translate(lambda: self._client.calls(call_sid).update(status="completed"))
        except TelephonyError as exc:
            if exc.code != 21220:
                raise

    def fetch_call(self, call_sid: str) -> FetchedCall:
        """Read a call's current status, for a call whose status callback never came."""
        call = _translate(lambda: self._client.calls(call_sid).fetch())
        try:
            duration = int(call.duration) if call.duration is not None else None
        except (TypeError, ValueError):
            duration = None
        return FetchedCall(
            sid=call.sid or call_sid,
            status=str(call.status or ""),
            duration=duration,
            answered_by=str(call.answered_by or ""),
        )

    def update_twiml(self, call_sid: str, twiml: str) -> None:
        """Replace what a live call is doing with ``twiml`` (e.g. leave a voicemail after AMD).

        A call that ended meanwhile (21220) needs nothing more.
        """
        try:
            _translate(lambda: self._client.calls(call_sid).update(twiml=twiml))
        except TelephonyError as exc:
            if exc.code != 21220:
                raise

    def send_sms(self, to: str, from_: str, body: str, status_callback: str | None = None) -> SentMessage:
        """Send one text message; delivery is reported later on ``status_callback``."""
        params: dict[str, object] = {"to": to, "from_": from_, "body": body}
        if status_callback:
            params["status_callback"] = status_callback
        message = _translate(lambda: self._client.messages.create(**params))
        return SentMessage(sid=message.sid, status=str(message.status or "queued"))

    def configure_incoming_number(self, phone_number: str, webhooks: NumberWebhooks) -> IncomingNumber:
        """Point the account's number ``phone_number`` (E.164) at our webhooks, all by POST.

        Sets exactly ``voice_url``, ``voice_method``, ``voice_fallback_url``,
        ``voice_fallback_method``, ``status_callback`` and ``status_callback_method``. An
        incoming number has no ``status_callback_event``: Twilio calls its status callback once,
        when the call ends, which is what finalises an inbound session. Raises
        :class:`NumberNotOnAccount` when the account does not own the number.
        """
        # The filter also matches partial numbers; only the exact number counts.
        found = _translate(lambda: self._client.incoming_phone_numbers.list(phone_number=phone_number, limit=20))
        match = next((n for n in found if n.phone_number == phone_number), None)
        if match is None:
            raise NumberNotOnAccount(
                f"{phone_number} is not a phone number of the Twilio account {self.account_sid}. "
                "Buy or port it into that account first.",
                status=404,
            )
        updated = _translate(
            lambda: self._client.incoming_phone_numbers(match.sid).update(
                voice_url=webhooks.voice_url,
                voice_method="POST",
                voice_fallback_url=webhooks.voice_fallback_url,
                voice_fallback_method="POST",
                status_callback=webhooks.status_callback,
                status_callback_method="POST",
            )
        )
        return IncomingNumber(
            sid=str(updated.sid or match.sid),
            phone_number=str(updated.phone_number or phone_number),
            voice_url=str(updated.voice_url or ""),
            voice_method=str(updated.voice_method or ""),
            voice_fallback_url=str(updated.voice_fallback_url or ""),
            voice_fallback_method=str(updated.voice_fallback_method or ""),
            status_callback=str(updated.status_callback or ""),
            status_callback_method=str(updated.status_callback_method or ""),
        )

    def account_fetch(self) -> TwilioAccount:
        """Read the account the credentials belong to: the check that they are right.

        Twilio answers 401 (error 20003) for a wrong SID or token; that arrives as a
        :class:`TelephonyError` with Twilio's code and message.
        """
        account = _translate(lambda: self._client.api.v2010.accounts(self.account_sid).fetch())
        return TwilioAccount(
            sid=str(account.sid or self.account_sid),
            friendly_name=str(account.friendly_name or ""),
            status=str(account.status or ""),
        )

    def incoming_numbers_list(self, limit: int = 200) -> list[OwnedNumber]:
        """The account's incoming phone numbers, at most ``limit`` of them."""
        found = _translate(lambda: self._client.incoming_phone_numbers.list(limit=limit))
        return [
            OwnedNumber(sid=str(n.sid), phone_number=str(n.phone_number), friendly_name=str(n.friendly_name or ""))
            for n in found
        ]


_SDK_PREFIX = re.compile(r"^Unable to \w+ record: ")


def _translate(request: Callable[[], _T]) -> _T:
    """Run one SDK request, turning SDK and transport exceptions into :mod:`.errors` ones.

    429 and 5xx answers are transient on Twilio's side, so they become
    :class:`TelephonyUnavailable` like a timeout does, keeping Twilio's code and status.
    """
    try:
        return request()
    except TwilioRestException as exc:
        # The SDK prefixes Twilio's message ("Unable to create record: ...") and, for a body
        # that is not JSON, uses the HTTP status as the code; undo both.
        code = exc.code if exc.code != exc.status else None
        raise _error_for(exc.status, code, _SDK_PREFIX.sub("", str(exc.msg))) from exc
    except TwilioServiceException as exc:
        raise _error_for(exc.status, exc.code, exc.detail or exc.title) from exc
    except TwilioException as exc:
        # A page of a list that failed ("Unable to fetch page", response): the same error answer.
        response = exc.args[1] if len(exc.args) > 1 else None
        if response is None or not getattr(response, "status_code", 0):
            raise
        raise _error_for(response.status_code, *_error_body(response.text)) from exc
    except (requests.RequestException, OSError) as exc:
        raise TelephonyUnavailable(
            f"Twilio could not be reached: {exc}", may_have_acted=not _never_connected(exc)
        ) from exc


def _never_connected(exc: BaseException) -> bool:
    """Whether the request certainly never reached Twilio (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return isinstance(exc, ConnectionRefusedError)


def _error_body(text: str) -> tuple[int | None, str]:
    try:
        body = json.loads(text)
    except ValueError:
        return None, text[:200]
    if not isinstance(body, dict):
        return None, text[:200]
    code = body.get("code")
    return (code if isinstance(code, int) else None), str(body.get("message") or text[:200])


def _error_for(status: int, code: int | None, message: str) -> TelephonyError:
    transient = status == 429 or status >= 500
    cls = TelephonyUnavailable if transient else TelephonyError
    return cls(message, code=code, status=status)
