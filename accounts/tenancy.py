"""The one way an API view reaches client data: ``TenantApi`` gives ``self.client``.

It is built so that it cannot be bypassed by accident: the tenant permission is always
enforced (a subclass that replaces ``permission_classes`` without it fails at import), and
``self.client`` comes only from the authenticated user, never from the request body or URL.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from accounts.models import Client


class IsClientUser(BasePermission):
    """Signed in as a user of a client business (staff use the admin, not the client API)."""

    message = "This endpoint is for users of a client business."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "client_id", None))


class TenantApi(APIView):
    permission_classes = [IsAuthenticated, IsClientUser]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if IsClientUser not in cls.permission_classes:
            raise TypeError(
                f"{cls.__name__} drops the tenant permission. Client data is reachable only through "
                "TenantApi's permissions; write a separate view for anything public."
            )

    @property
    def client(self) -> Client:
        return self.request.user.client
