"""Settings for bench/turn_latency.py: the production settings, plus the floor view and a query counter.

Everything else (middleware, database options, persistent connections) is exactly what
production runs, so the real webhooks and the floor are measured through the same stack.
"""

import os

# Bench-only secrets when run by hand; bench/turn_latency.py always passes its own.
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "bench-only-field-encryption-key")

from salesagents.settings import *  # noqa: E402, F403
from salesagents.settings import MIDDLEWARE  # noqa: E402

ROOT_URLCONF = "bench.bench_urls"
# Outermost, so it sees every query of the request and the whole time spent in Django.
MIDDLEWARE = ["bench.floor.QueryCountMiddleware", *MIDDLEWARE]
