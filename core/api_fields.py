"""Serializer fields whose OpenAPI description is exactly what they accept and render.

Each states its rule in the schema as far as JSON Schema can (a pattern, a length); what a
schema cannot say (is this number in service, is this zone in the IANA database) is refused
with ``REFUSED_BY_RULE``, which the API answers as 422, so a 400 always means "see the schema".
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.errors import REFUSED_BY_RULE, ValidationFailed
from core.phone import normalize_e164
from core.timezones import is_timezone_name

HOUR_MINUTE_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
TIMEZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$"


def _or_empty(pattern: str, allow_blank: bool) -> str:
    # The schema must admit "" where the field does (it clears the value), and only there.
    return f"^$|{pattern}" if allow_blank else pattern


@extend_schema_field(
    {"type": "string", "pattern": HOUR_MINUTE_PATTERN, "example": "09:00", "description": "HH:MM (24 h)."}
)
class HourMinuteField(serializers.TimeField):
    """A wall-clock time as "HH:MM" (seconds accepted on input, never rendered).

    OpenAPI's ``format: time`` is RFC 3339's "09:00:00Z", with seconds and an offset; ours is a
    local time without either, so the schema says it with a pattern instead.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M")
        kwargs.setdefault("input_formats", ["%H:%M", "%H:%M:%S"])
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        if isinstance(value, str) and not RegexValidator(HOUR_MINUTE_PATTERN).regex.match(value):
            self.fail("invalid", format="hh:mm")
        return super().to_internal_value(value)


class PhoneNumberField(serializers.CharField):
    """A phone number typed any usual way ("(415) 555-0123", "+44 20 7946 0958"), returned as E.164.

    The schema bounds its length and, unless blank is allowed, forbids ""; whether the text is a
    phone number at all is phonenumbers' call, not a regex's, so a refusal is a 422 saying why.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("help_text", "Any usual format; stored as E.164, e.g. +14155550123.")
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        if value in ("", None):
            return value
        try:
            return normalize_e164(value)
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.message, code=REFUSED_BY_RULE) from None


class TimezoneNameField(serializers.CharField):
    """An IANA zone name. The shape is in the schema; whether the zone exists is a 422."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("help_text", "IANA timezone name, e.g. America/New_York.")
        super().__init__(**kwargs)
        self.validators.append(
            RegexValidator(_or_empty(TIMEZONE_PATTERN, self.allow_blank), "Use an IANA name like America/New_York.")
        )

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        if value and not is_timezone_name(value):
            raise serializers.ValidationError(
                f"'{value}' is not a known timezone (use an IANA name like America/New_York).", code=REFUSED_BY_RULE
            )
        return value


_drf_char_to_internal_value = serializers.CharField.to_internal_value


def _text_only(self, data):
    # DRF turns 42 into "42" for a CharField (HTML forms send everything as text). The API
    # reads JSON only, where a number is not a text: the schema says "string", so we refuse it.
    if not isinstance(data, str):
        self.fail("invalid")
    return _drf_char_to_internal_value(self, data)


def refuse_non_text_for_char_fields() -> None:
    """Called once from ``CoreConfig.ready``: every CharField of every API serializer, including
    ones not written yet, accepts only a JSON string, as the schema documents it."""
    serializers.CharField.to_internal_value = _text_only
