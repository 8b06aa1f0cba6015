"""Settings for the test suite: production settings with test-only secrets filled in."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "test-only-field-encryption-key")

from salesagents.settings import *  # noqa: F403
from salesagents.settings import STORAGES

STORAGES = {
    **STORAGES,
    # Uploads (import jobs) stay in memory: nothing written under var/ by a test run.
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
