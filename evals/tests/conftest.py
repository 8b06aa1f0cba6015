"""The OpenAI-compatible fake the calls tests use, shared here (one definition)."""

from calls.tests.conftest import fake_llm  # noqa: F401 - pytest fixture
