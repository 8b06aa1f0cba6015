"""Errors of the telephony boundary, free of SDK types.

Callers (services, tasks, the dashboard) catch these instead of ``twilio`` exceptions, so the
SDK stays inside ``integrations/twilio`` and a simulated phone can raise the very same errors.
The split that matters to callers is *retryable or not*: :class:`TelephonyUnavailable` means
"try again later" (a task retries with backoff), a plain :class:`TelephonyError` means Twilio
refused the request and repeating it would only be refused again.
"""

from __future__ import annotations

# Twilio error codes a client can act on, in words a client understands.
# https://www.twilio.com/docs/api/errors
_USER_MESSAGES: dict[int, str] = {
    20003: "Twilio rejected the account credentials (authentication failed). "
    "Check the Twilio account SID and auth token.",
    20429: "Twilio is receiving too many requests from this account. Please try again shortly.",
    21210: "The 'From' number is not a verified caller ID or a number owned by this Twilio account.",
    21211: "The 'To' number is not a valid phone number.",
    21214: "The 'To' number cannot be reached.",
    21215: "This account has no geographic permission to call the 'To' number's country.",
    21216: "Calls to the 'To' number are blocked.",
    21217: "The 'To' number is not a valid phone number.",
    21219: "This is a Twilio trial account: it may only call numbers verified on the account.",
    21220: "The call is no longer in progress.",
    21610: "The recipient has opted out of text messages from this number (replied STOP).",
    21614: "The 'To' number cannot receive text messages.",
}


class TelephonyError(Exception):
    """Twilio (or a simulated phone) refused a request.

    ``code`` is Twilio's error code when it sent one, ``message`` its explanation, ``status`` the
    HTTP status it answered with (0 when no answer arrived at all).
    """

    def __init__(self, message: str, *, code: int | None = None, status: int = 0, may_have_acted: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        # True only when the request may have reached Twilio and no answer came back (a read
        # timeout, a dropped connection): Twilio may have acted on it. An error answer, or a
        # connection that was never made, means Twilio did nothing.
        self.may_have_acted = may_have_acted

    @property
    def retryable(self) -> bool:
        """Whether repeating the same request later may succeed."""
        return False

    @property
    def user_message(self) -> str:
        """A reason fit to show a client on the dashboard, for the codes worth explaining."""
        known = _USER_MESSAGES.get(self.code) if self.code is not None else None
        if known:
            return known
        suffix = f" (Twilio error {self.code})" if self.code is not None else ""
        return f"The phone service refused the request: {self.message}{suffix}"

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.status:
            parts.append(f"status={self.status}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, status={self.status!r})"


class NumberNotOnAccount(TelephonyError):
    """The phone number is not one of the Twilio account's incoming numbers."""

    @property
    def user_message(self) -> str:
        return self.message


class TelephonyUnavailable(TelephonyError):
    """Twilio could not be reached, timed out, or said it is overloaded (5xx, 429): transient.

    A timeout after the request was sent is ambiguous: Twilio may have acted on it. Callers that
    must not act twice (placing a call) key their retries so a repeat is harmless.
    """

    @property
    def retryable(self) -> bool:
        return True

    @property
    def user_message(self) -> str:
        known = _USER_MESSAGES.get(self.code) if self.code is not None else None
        return known or "The phone service could not be reached. Please try again in a moment."
