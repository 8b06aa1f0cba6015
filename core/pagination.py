"""Pagination for list endpoints, and its OpenAPI description."""

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination as _PageNumberPagination
from rest_framework.response import Response

from core.api_query import query_param_errors

MAX_PAGE_SIZE = 200


class PageNumberPagination(_PageNumberPagination):
    """``?page=`` and ``?page_size=`` (max 200): big enough for a table, small enough to stay fast.

    DRF falls back to the defaults on a page size it cannot read; we answer 400 instead, so a
    client asking for ``page_size=500`` learns it got 200 rows per page at most, not 25 silently.
    """

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        self._read_positive_int(request, "page", maximum=None)
        return super().paginate_queryset(queryset, request, view=view)

    def get_page_size(self, request):
        return self._read_positive_int(request, "page_size", maximum=self.max_page_size) or self.page_size

    @staticmethod
    def _read_positive_int(request, name: str, *, maximum: int | None) -> int | None:
        problem = query_param_errors(request.query_params, name=name)
        raw = request.query_params.get(name)
        if problem is None and raw is not None:
            if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
                problem = f"{name} must be a whole number from 1."
            elif maximum is not None and int(raw) > maximum:
                problem = f"{name} may be at most {maximum}."
        if problem:
            raise serializers.ValidationError({name: [problem]})
        return int(raw) if raw is not None else None


PAGE_PARAMETERS = [
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1},
        description="Page number, from 1; a page past the last is a 404.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        description=f"Rows per page (default 25, at most {MAX_PAGE_SIZE}).",
    ),
]


def paginated(name: str, item: type[serializers.Serializer]) -> serializers.Serializer:
    """The documented shape of one page of ``item``, as ``paginated_response`` renders it."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(help_text="Rows matching the filters, on all pages."),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )


def paginated_response(*, view, queryset, serializer_class, context: dict | None = None) -> Response:
    """One COUNT and one page query, however many rows there are."""
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context or {}).data)
