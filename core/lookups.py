"""The one way to fetch a client's object by id: missing, malformed and foreign ids look alike."""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

from core.errors import NotFound

M = TypeVar("M", bound=Model)


def get_scoped(queryset: QuerySet[M], pk, *, message: str, code: str = "not_found") -> M:
    """``queryset.get(pk=pk)`` or NotFound. The queryset carries the tenant filter.

    A malformed id is "not found" too, so a caller learns nothing from the difference
    between an id that does not exist and one that belongs to another client.
    """
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(message, code=code) from None
