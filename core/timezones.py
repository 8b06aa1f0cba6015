"""Timezone names: validated against the IANA database the server has."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone_name(value: str) -> None:
    if value and value not in _known():
        raise ValidationError(f"'{value}' is not a known timezone (use an IANA name like America/New_York).")


def is_timezone_name(value: str) -> bool:
    return value in _known()
