"""Query parameters read strictly: what the OpenAPI document says a parameter is, the API enforces.

DRF reads a query string the way it reads an HTML form: ``?status=`` counts as "not sent" and
``?page_size=5&page_size=9`` silently keeps the last value. An API client that sends either has
a bug we should tell it about, so filters are parsed through ``QuerySerializer``: a parameter
given twice, or given empty where the schema forbids empty, is a 400 naming it.
"""

from __future__ import annotations

from django.http import QueryDict
from rest_framework import serializers


def query_param_errors(query: QueryDict, *, name: str, allow_blank: bool = False) -> str | None:
    """Why ``name`` in ``query`` breaks the schema (given twice, or empty), or None when it does not."""
    values = query.getlist(name)
    if len(values) > 1:
        return f"Give {name} once (it was given {len(values)} times)."
    if values == [""] and not allow_blank:
        return f"{name} may not be empty: give a value or leave the parameter out."
    return None


class QuerySerializer(serializers.Serializer):
    """Base for every ``FilterSerializer``: repeated and empty parameters are refused, not ignored."""

    def to_internal_value(self, data):
        if isinstance(data, QueryDict):
            errors = {}
            for name, field in self.fields.items():
                problem = query_param_errors(data, name=name, allow_blank=getattr(field, "allow_blank", False))
                if problem:
                    errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
