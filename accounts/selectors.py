"""Reads of accounts data."""

from __future__ import annotations

from accounts.models import Client, User


def client_users(*, client: Client):
    return User.objects.filter(client=client).order_by("email")
