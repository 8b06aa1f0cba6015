"""Pagination for list endpoints, and its OpenAPI description."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination as _PageNumberPagination
from rest_framework.response import Response


class PageNumberPagination(_PageNumberPagination):
    """``?page=`` and ``?page_size=`` (max 200): big enough for a table, small enough to stay fast."""

    page_size_query_param = "page_size"
    max_page_size = 200


PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="Rows per page (default 25, at most 200)."),
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
