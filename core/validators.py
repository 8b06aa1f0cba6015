"""Model-level validators for value rules."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from core.errors import ValidationFailed
from core.phone import normalize_e164


def validate_e164(value: str) -> None:
    if not value:
        return
    try:
        normalized = normalize_e164(value)
    except ValidationFailed as exc:
        raise ValidationError(exc.message) from None
    if normalized != value:
        raise ValidationError(f"Store phone numbers in E.164 form ({normalized}).")
