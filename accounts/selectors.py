"""Reads of accounts data."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import Client, SettingChange, User


def api_tokens(*, user: User) -> QuerySet[AuthToken]:
    """The user's tokens that still work, newest first (an expired one is as good as gone)."""
    return AuthToken.objects.filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()), user=user).order_by(
        "-created"
    )


def api_token_get(*, user: User, token_id: str) -> AuthToken:
    """One of the user's own tokens by its public id; another user's is "not found", like a missing one."""
    token = api_tokens(user=user).filter(token_key=token_id[:64]).first()
    if token is None:
        raise Http404("No such token.")
    return token


def setting_change_list(*, client: Client, area: str | None = None, limit: int = 20) -> list[SettingChange]:
    """The client's most recent settings changes (newest first), with who made them."""
    rows = SettingChange.objects.filter(client=client).select_related("changed_by")
    if area:
        rows = rows.filter(area=area)
    return list(rows[:limit])
