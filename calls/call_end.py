"""Who else hears that a call has ended: apps above ``calls`` connect a listener at start-up.

``calls`` may not import them (DESIGN.md, layers), yet a campaign must settle its lead in the
same transaction that closes the call, and its calls are retried by the campaign's policy, not
by the agent's follow-up rule. A listener returns True when it takes charge of the call's retries.
"""

from __future__ import annotations

from collections.abc import Callable

from calls.models import CallSession

CallEndListener = Callable[[CallSession], bool]
_listeners: list[CallEndListener] = []


def call_end_connect(listener: CallEndListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def call_end_notify(call: CallSession) -> bool:
    """Tell every listener (inside the transaction that closes the call); True when one retries it itself."""
    taken = [listener(call) for listener in _listeners]
    return any(taken)
