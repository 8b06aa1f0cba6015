from rest_framework.pagination import PageNumberPagination as _PageNumberPagination


class PageNumberPagination(_PageNumberPagination):
    """``?page=`` and ``?page_size=`` (max 200): big enough for a table, small enough to stay fast."""

    page_size_query_param = "page_size"
    max_page_size = 200
