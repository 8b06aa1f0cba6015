"""X-Twilio-Signature: what we sign validates, anything altered does not."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from integrations.twilio.signature import sign, signature_is_valid

TOKEN = "12345678901234567890123456789012"
URL = "https://agents.example.com/hooks/agt_1/voice?attempt=1"
PARAMS = {"CallSid": "CA123", "From": "+14155550123", "To": "+14155550100", "SpeechResult": "Tom & Jerry <3"}


def valid(**overrides: object) -> bool:
    values: dict = {
        "auth_token": TOKEN,
        "url": URL,
        "params": PARAMS,
        "signature": sign(auth_token=TOKEN, url=URL, params=PARAMS),
    }
    return signature_is_valid(**(values | overrides))


def test_a_signed_request_validates() -> None:
    assert valid()


def test_matches_twilios_documented_example() -> None:
    # https://www.twilio.com/docs/usage/security#validating-requests
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert sign(auth_token="12345", url=url, params=params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_a_tampered_param_fails() -> None:
    assert not valid(params=PARAMS | {"From": "+19999999999"})
    assert not valid(params=PARAMS | {"Extra": "1"})


def test_a_wrong_url_fails() -> None:
    assert not valid(url="https://agents.example.com/hooks/agt_2/voice?attempt=1")
    assert not valid(url="http://agents.example.com/hooks/agt_1/voice?attempt=1")


def test_a_wrong_token_fails() -> None:
    assert not valid(auth_token="another-token-entirely")


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_signature_fails(signature: str | None) -> None:
    assert not valid(signature=signature)


def test_a_blank_token_never_validates_even_if_signed_with_it() -> None:
    forged = RequestValidator("").compute_signature(URL, PARAMS)
    assert not signature_is_valid(auth_token="", url=URL, params=PARAMS, signature=forged)
    with pytest.raises(ValueError):
        sign(auth_token="", url=URL, params=PARAMS)


def test_multi_valued_params_are_all_signed() -> None:
    params = {"CallSid": "CA123", "StatusCallbackEvent": ["initiated", "ringing"]}
    signature = sign(auth_token=TOKEN, url=URL, params=params)

    assert signature_is_valid(auth_token=TOKEN, url=URL, params=params, signature=signature)
    assert not signature_is_valid(
        auth_token=TOKEN,
        url=URL,
        params={"CallSid": "CA123", "StatusCallbackEvent": ["initiated"]},
        signature=signature,
    )


class QueryDictLike(dict):
    """What Django hands a view: ``[]`` gives the last value, ``getlist`` gives them all."""

    def __init__(self, lists: dict[str, list[str]]) -> None:
        super().__init__({name: values[-1] for name, values in lists.items()})
        self._lists = lists

    def getlist(self, name: str) -> list[str]:
        return self._lists[name]


def test_a_querydict_validates_with_every_value() -> None:
    lists = {"CallSid": ["CA123"], "StatusCallbackEvent": ["initiated", "ringing"]}
    signature = sign(
        auth_token=TOKEN, url=URL, params={"CallSid": "CA123", "StatusCallbackEvent": ["initiated", "ringing"]}
    )

    assert signature_is_valid(auth_token=TOKEN, url=URL, params=QueryDictLike(lists), signature=signature)


def test_a_url_signed_with_the_default_port_still_validates() -> None:
    """Twilio sometimes signs https URLs with :443; the validator accepts both forms."""
    signature = sign(auth_token=TOKEN, url="https://agents.example.com:443/hooks/agt_1/voice?attempt=1", params=PARAMS)

    assert valid(signature=signature)
