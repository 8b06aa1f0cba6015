import pytest

from core.errors import ValidationFailed
from core.phone import normalize_e164, timezone_for_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("+1 (415) 555-0100", "+14155550100"), ("415.555.0100", "+14155550100"), ("+44 20 7183 8750", "+442071838750")],
)
def test_numbers_are_normalised_to_e164(raw, expected):
    assert normalize_e164(raw) == expected


@pytest.mark.parametrize("raw", ["", "hello", "+1555", "12"])
def test_bad_numbers_are_refused_with_a_reason(raw):
    with pytest.raises(ValidationFailed) as exc:
        normalize_e164(raw)
    assert "phone number" in exc.value.message


def test_timezone_only_when_the_number_pins_one_down():
    assert timezone_for_number("+12125550123") == "America/New_York"
    assert timezone_for_number("+442071838750") == "Europe/London"
    # Canada's toll-free and a multi-zone country code are not guessed.
    assert timezone_for_number("+18005550199") == ""
