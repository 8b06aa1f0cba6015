"""Settings for the test suite: production settings with test-only secrets filled in."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "test-only-field-encryption-key")
# The served app's request threads (relay and browser tests) close their connections when each
# request ends, so none is left open on the test database when the session drops it. The
# benchmarks, which run on these settings too, ask for persistent connections themselves.
os.environ.setdefault("DB_CONN_MAX_AGE", "0")

from salesagents.settings import *  # noqa: F403
from salesagents.settings import DATABASES, STORAGES

STORAGES = {
    **STORAGES,
    # Uploads (import jobs) stay in memory: nothing written under var/ by a test run.
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (WAL, with the busy timeout), not SQLite's shared-cache memory: the relay tests' served
    # app writes from its own threads while the test reads, and shared-cache memory refuses such a
    # writer at once ("database table is locked") where a file makes it wait its turn.
    import tempfile

    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"salesagents-test-{os.getpid()}.sqlite3")
    }
