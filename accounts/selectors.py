"""Reads of accounts data."""

from __future__ import annotations

from accounts.models import Client, SettingChange, User


def client_users(*, client: Client):
    return User.objects.filter(client=client).order_by("email")


def setting_change_list(*, client: Client, area: str | None = None, limit: int = 20) -> list[SettingChange]:
    """The client's most recent settings changes (newest first), with who made them."""
    rows = SettingChange.objects.filter(client=client).select_related("changed_by")
    if area:
        rows = rows.filter(area=area)
    return list(rows[:limit])
