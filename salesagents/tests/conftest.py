"""The headless browser fixtures, shared with the dashboard's browser tests (one definition)."""

from dashboard.tests.conftest import _playwright, browser, page  # noqa: F401 - pytest fixtures
