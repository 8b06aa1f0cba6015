"""Settings for bench/turn_latency.py: the production settings, plus the floor view and a query counter.

Everything else (middleware, database options, persistent connections) is what production
runs, so the real webhooks and the floor are measured through the same stack.
"""

import importlib.util
import os
from pathlib import Path

# Bench-only secrets when run by hand; bench/turn_latency.py always passes its own.
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "bench-only-field-encryption-key")

# The production settings, read from their file rather than imported as salesagents.settings:
# importing the `salesagents` package starts the Celery app, which reads the settings that
# are being loaded here (salesagents.test_settings escapes that only because it lives inside
# the package, which is imported before it).
_spec = importlib.util.spec_from_file_location(
    "bench._production_settings", Path(__file__).resolve().parent.parent / "salesagents" / "settings.py"
)
_production = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_production)
globals().update({name: value for name, value in vars(_production).items() if name.isupper()})

ROOT_URLCONF = "bench.bench_urls"
# Outermost, so it sees every query of the request and the whole time spent in Django.
MIDDLEWARE = ["bench.floor.QueryCountMiddleware", *_production.MIDDLEWARE]
