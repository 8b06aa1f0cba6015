"""Phone numbers: one normal form (E.164) everywhere, and the timezone a number implies."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as number_timezones

from core.errors import ValidationFailed


def normalize_e164(raw: str, *, default_region: str = "US") -> str:
    """Return ``raw`` as E.164 (``+14155550123``) or raise ValidationFailed saying why.

    Numbers without a leading ``+`` are read in ``default_region``, the way a person in
    that country would dial them.
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed("A phone number is required.")
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        raise ValidationFailed(
            f"'{text}' is not a phone number. Use the international format, e.g. +14155550123."
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(
            f"'{text}' is not a valid phone number. Use the international format, e.g. +14155550123."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def timezone_for_number(e164: str) -> str:
    """The IANA timezone of a number when the number pins down exactly one, else ''.

    A US mobile number can span a state with two zones; guessing would risk calling
    someone at night, so an ambiguous number yields '' and the timezone stays unknown.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ""
    zones = [z for z in number_timezones.time_zones_for_number(number) if z != "Etc/Unknown"]
    return zones[0] if len(zones) == 1 else ""


def region_of(e164: str, *, default: str = "US") -> str:
    """The country (ISO 3166 code) a number belongs to: how a local number said to it is read."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return default
    return region if region and region != "ZZ" else default
