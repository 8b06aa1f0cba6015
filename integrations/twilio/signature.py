"""``X-Twilio-Signature``: proving a webhook request really comes from Twilio.

Twilio signs each webhook with the auth token of the account that owns the number, over the
full public URL and the POSTed form fields. The webhook decorator checks it with
:func:`signature_is_valid`; the simulated phone signs its requests with :func:`sign`, so the
same views and the same check serve both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from twilio.request_validator import RequestValidator


def signature_is_valid(*, auth_token: str, url: str, params: Mapping[str, Any], signature: str | None) -> bool:
    """Whether ``signature`` is Twilio's signature of ``url`` and ``params`` under ``auth_token``.

    ``url`` must be the public URL Twilio requested (scheme, host, path and query), never one
    rebuilt from a Host header an attacker controls. ``params`` may be a Django ``QueryDict``
    or a plain mapping whose values are strings or lists of strings (a field Twilio sends more
    than once). Fails closed: no signature or no token is never valid, since a blank token would
    let anyone sign.
    """
    if not auth_token or not signature:
        return False
    return RequestValidator(auth_token).validate(url, _MultiValued(params), signature)


def sign(*, auth_token: str, url: str, params: Mapping[str, Any]) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for this request (simulated phone, tests)."""
    if not auth_token:
        raise ValueError("An auth token is required to sign a request.")
    return RequestValidator(auth_token).compute_signature(url, _MultiValued(params))


class _MultiValued(dict[str, list[str]]):
    """Form fields as lists of strings, with the ``getlist`` the SDK's validator looks for.

    The SDK indexes a plain dict once per field, which breaks on list values; giving it
    ``getlist`` makes it sign every value of a repeated field, as Twilio does.
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        getlist = getattr(params, "getlist", None)
        super().__init__(
            (str(name), [str(v) for v in (getlist(name) if getlist else _values(value))])
            for name, value in params.items()
        )

    def getlist(self, name: str) -> list[str]:
        return self[name]


def _values(value: Any) -> Iterable[Any]:
    if isinstance(value, (list, tuple)):
        return value
    return [value]
