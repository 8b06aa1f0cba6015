"""The dashboard at scale: one tenant with 1,000,000 calls and 100,000 customers on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dashboard_scale.py

It creates its own database (``salesagents_dash_bench`` on the server DATABASE_URL names),
migrates it, bulk-loads the tenant in the database itself (``INSERT ... SELECT`` over
``generate_series``, in chunks, with a progress bar), recounts the dashboard's counters the
bulk load went past (``manage.py dashboard_counts_rebuild``), then times the dashboard API
(``GET /api/dashboard/ai-agent/``) and the overview page (``GET /``) through Django's test
client, and prints p50/p95 and each one's query count. The database is dropped at the end
(``--keep`` keeps it for a look with psql). Target: p95 <= 100 ms for both.

Growth: unless ``--no-compare``, the same tenant is first loaded and timed at 10,000 calls (and
customers in the same proportion), then at the full size, and the script prints, per page, the
p95 ratio full / 10k (target <= 1.5: a dashboard that grows slowly with its data) and whether
the query counts are equal (they must be: no query per row).

The calls are spread over a year (about 2,700 a day, a busy tenant), so the dashboard's
recent windows (7, 14 and 30 days) hold a realistic share of them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "salesagents_dash_bench"
TARGET_P95_MS = 100.0
SMALL_CALLS = 10_000
TARGET_GROWTH = 1.5  # p95 at the full size / p95 at 10k calls


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--turn-days", type=int, default=30, help="calls of the last N days get transcript turns")
    parser.add_argument("--days", type=int, default=365, help="the calls are spread over this many days")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per endpoint")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--no-compare", action="store_true", help=f"skip the {SMALL_CALLS:,}-call run and the growth ratios"
    )
    parser.add_argument("--reuse", action="store_true", help="time an existing benchmark database (no load)")
    parser.add_argument(
        "--proposed-indexes", action="store_true", help="add the covering indexes proposed in the report, then time"
    )
    return parser.parse_args()


def bench_urls() -> tuple[str, str]:
    """(the server's maintenance database URL, the benchmark database URL).

    The benchmark database is named after DATABASE_URL's (``sa_h10`` -> ``sa_h10_dash_bench``), so
    people sharing one server each drop and create only their own.
    """
    global BENCH_DB
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("DATABASE_URL must point at a PostgreSQL server (any database on it).")
    name = parts.path.strip("/")
    if name and name != "postgres":
        BENCH_DB = f"{name}_dash_bench"
    return urlunsplit(parts._replace(path="/postgres")), urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def recreate_database(maintenance_url: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database(maintenance_url: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def setup_django(bench_url: str) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "salesagents.test_settings"
    os.environ.setdefault("DB_CONN_MAX_AGE", "600")
    import django

    django.setup()
    from django.conf import settings

    settings.TELEPHONY_BACKEND = "simulated"
    settings.LLM_PROVIDER = "scripted"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}


# --- loading -------------------------------------------------------------------------------------


def chunks(total: int, size: int):
    start = 1
    while start <= total:
        end = min(total, start + size - 1)
        yield start, end
        start = end + 1


def load(args) -> tuple[int, str]:
    """The tenant, its trained agent, and the bulk rows; returns (agent id, owner email)."""
    from django.core.management import call_command
    from django.db import connection
    from tqdm import tqdm

    from accounts.services import client_signup
    from agents.models import AIAgent
    from agents.services import agent_setup, training_add

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - t0:.1f} s")
    signed = client_signup(
        company_name="Scale Solar", email="owner@scale.bench", password="bench-pass-2026-x", timezone="America/New_York"
    )
    agent = agent_setup(
        client=signed.client, name="Sarah", business_info={"company_name": "Scale Solar",
        "product_description": "Rooftop solar", "value_proposition": "Pay less"},
    )  # fmt: skip
    training_add(agent=agent, training_type="script", training_content="Hi, this is [NAME] from [COMPANY]. " * 12)
    training_add(
        agent=agent, training_type="objection_handling",
        objection_responses={"price_too_high": "Zero down; most pay less than their old bill.",
                             "already_have_provider": "Many switched from another provider.",
                             "need_to_think": "Of course: shall I call you tomorrow?"},
    )  # fmt: skip
    agent_id = agent.pk
    n_customers, n_calls = args.customers, args.calls

    with connection.cursor() as cursor:
        bar = tqdm(total=n_customers, desc="customers", unit="row", unit_scale=True)
        for lo, hi in chunks(n_customers, 25_000):
            cursor.execute(
                """
                INSERT INTO customers_customerprofile
                  (id, ai_agent_id, phone_number, name, email, timezone, interest_level, call_preference_time,
                   total_calls, successful_calls, conversation_notes, preferences, objections, is_do_not_call,
                   is_converted, is_anonymous, is_simulated, last_contacted_at, created_at, updated_at,
                   dashboard_counted)
                SELECT gen_random_uuid(), %(agent)s, '+1' || (2125000000 + g)::text, 'Lead ' || g,
                       'lead' || g || '@example.com',
                       (ARRAY['America/New_York','America/Chicago','America/Denver','America/Los_Angeles'])[1 + g %% 4],
                       CASE WHEN g %% 20 = 0 THEN 'converted' WHEN g %% 10 = 1 THEN 'hot'
                            WHEN g %% 4 = 2 THEN 'warm' ELSE 'cold' END,
                       '', 10, 1, '[]'::jsonb, '{}'::jsonb, '[]'::jsonb, g %% 97 = 0, g %% 20 = 0, false, false,
                       now() - (g %% 300) * interval '1 hour', now() - (g %% 365) * interval '1 day', now(), ''
                FROM generate_series(%(lo)s::int, %(hi)s::int) AS g
                """,
                {"agent": agent_id, "lo": lo, "hi": hi},
            )
            bar.update(hi - lo + 1)
        bar.close()
        cursor.execute(
            "CREATE TEMP TABLE bench_customer AS SELECT row_number() OVER (ORDER BY phone_number) AS n, id "
            "FROM customers_customerprofile WHERE ai_agent_id = %s",
            [agent_id],
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_customer (n)")

        span = args.days * 86400
        bar = tqdm(total=n_calls, desc="calls", unit="row", unit_scale=True)
        for lo, hi in chunks(n_calls, 50_000):
            cursor.execute(
                """
                INSERT INTO calls_callsession
                  (id, ai_agent_id, customer_profile_id, call_type, status, outcome, context,
                   conversation_transcript, sentiment_analysis, customer_response, conversation_notes,
                   followup_scheduled, twilio_call_sid, status_sequence, recording_url, answered_by,
                   started_at, answered_at, ended_at, duration_seconds, llm_fallbacks, outcome_learned,
                   is_simulation, created_at, updated_at, dashboard_counted)
                SELECT gen_random_uuid(), %(agent)s, c.id,
                       (ARRAY['outbound','outbound','inbound','scheduled','followup'])[1 + g %% 5],
                       CASE WHEN o.outcome = 'failed' THEN 'failed' WHEN o.outcome = 'no_answer' THEN 'no_answer'
                            ELSE 'completed' END,
                       o.outcome, '', '', '{}'::jsonb, '', '', false, 'CAbench' || g, 9, '',
                       CASE WHEN o.outcome = 'voicemail' THEN 'machine_end_beep'
                            WHEN o.outcome IN ('no_answer','failed') THEN '' ELSE 'human' END,
                       t.started_at,
                       CASE WHEN o.outcome IN ('no_answer','failed') THEN NULL ELSE t.started_at END,
                       t.started_at + interval '3 minutes',
                       CASE WHEN o.outcome IN ('no_answer','failed') THEN 0 ELSE 30 + g %% 400 END,
                       CASE WHEN g %% 211 = 0 THEN 1 ELSE 0 END, true, false, t.started_at, t.started_at, '{}'::jsonb
                FROM generate_series(%(lo)s::int, %(hi)s::int) AS g
                JOIN bench_customer c ON c.n = 1 + (g::bigint * 7919) %% %(customers)s::int
                CROSS JOIN LATERAL (
                    SELECT now()
                        - make_interval(secs => (g::float8 / %(calls)s::float8) * %(span)s::float8) AS started_at
                ) t
                CROSS JOIN LATERAL (
                    SELECT CASE
                        WHEN g %% 100 < 18 THEN 'answered' WHEN g %% 100 < 32 THEN 'interested'
                        WHEN g %% 100 < 46 THEN 'not_interested' WHEN g %% 100 < 52 THEN 'converted'
                        WHEN g %% 100 < 62 THEN 'callback_requested' WHEN g %% 100 < 74 THEN 'voicemail'
                        WHEN g %% 100 < 97 THEN 'no_answer' ELSE 'failed' END AS outcome
                ) o
                """,
                {"agent": agent_id, "lo": lo, "hi": hi, "customers": n_customers, "calls": n_calls, "span": span},
            )
            bar.update(hi - lo + 1)
        bar.close()

        t0 = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO calls_callturn (call_id, sequence, speaker, text, spoken_at, latency_ms, provider, actions)
            SELECT c.id, s, CASE WHEN s %% 2 = 0 THEN 'agent' ELSE 'caller' END, 'Hello there',
                   c.started_at + s * interval '10 seconds',
                   CASE WHEN s %% 2 = 0 THEN 150 + (abs(hashtext(c.twilio_call_sid || s)) %% 1200) END,
                   CASE WHEN s %% 2 = 0 THEN 'scripted' ELSE '' END, '[]'::jsonb
            FROM calls_callsession c CROSS JOIN generate_series(0, 3) AS s
            WHERE c.ai_agent_id = %s AND c.answered_at IS NOT NULL
              AND c.started_at >= now() - %s::int * interval '1 day'
            """,
            [agent_id, args.turn_days],
        )
        turns = cursor.rowcount
        print(f"turns: {turns:,} rows in {time.perf_counter() - t0:.1f} s")

        cursor.execute(
            """
            INSERT INTO callbacks_scheduledcallback
              (id, ai_agent_id, customer_profile_id, kind, scheduled_datetime, reason, status, priority_level,
               expected_outcome, attempts, max_attempts, is_overdue, last_error, created_at, updated_at)
            SELECT gen_random_uuid(), %(agent)s, c.id, CASE WHEN g %% 3 = 0 THEN 'followup' ELSE 'callback' END,
                   now() + (g - 500) * interval '17 minutes', 'Customer asked for a callback',
                   CASE WHEN g %% 5 = 0 THEN 'completed' ELSE 'scheduled' END, 1 + g %% 5, '', 0, 3, false, '',
                   now(), now()
            FROM generate_series(1, 5000) AS g JOIN bench_customer c ON c.n = 1 + (g * 31) %% %(customers)s::int
            """,
            {"agent": agent_id, "customers": n_customers},
        )

    memory = {
        "version": 1,
        "processed_calls": n_calls,
        "outcomes": {"answered": n_calls // 6, "interested": n_calls // 7, "converted": n_calls // 17},
        "objections": {
            "price_too_high": {"count": 91_000, "interested": 30_000, "converted": 9_000},
            "already_have_provider": {"count": 44_000, "interested": 9_000, "converted": 2_100},
            "need_to_think": {"count": 38_000, "interested": 15_000, "converted": 4_000},
            "not_interested": {"count": 61_000, "interested": 3_000, "converted": 400},
        },
        "objection_answers": {
            "price_too_high": {"uses": 88_000, "interested": 31_000, "converted": 9_100},
            "already_have_provider": {"uses": 41_000, "interested": 9_200, "converted": 2_200},
            "need_to_think": {"uses": 36_000, "interested": 15_400, "converted": 4_100},
        },
        "pickup_hours": {str(h): {"attempts": 40_000, "answered": 10_000 + 1_000 * (h % 9)} for h in range(8, 21)},
        "conversion_trend": {},
    }
    AIAgent.objects.filter(pk=agent_id).update(
        calls_handled=n_calls, successful_conversions=n_calls * 6 // 100, conversation_memory=memory
    )
    # The rows went in past the services that keep the dashboard's counters: recount them, as after
    # any bulk load (calls per day, customers per level).
    t0 = time.perf_counter()
    call_command("dashboard_counts_rebuild", verbosity=0)
    print(f"dashboard counters rebuilt in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for table in (
            "customers_customerprofile",
            "calls_callsession",
            "calls_callturn",
            "callbacks_scheduledcallback",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
        # Flush the load's dirty pages now (the counter rebuild rewrites every call row), so the
        # checkpointer writing them out does not run under the timed requests.
        cursor.execute("CHECKPOINT")
    print(f"vacuum analyze and checkpoint in {time.perf_counter() - t0:.1f} s")
    return agent_id, "owner@scale.bench"


# --- timing --------------------------------------------------------------------------------------


PROPOSED_INDEXES = (
    # The recent-calls aggregates (performance, calls per day) read these columns only: index-only scans.
    "CREATE INDEX IF NOT EXISTS call_agent_time_cover_idx ON calls_callsession (ai_agent_id, started_at) "
    "INCLUDE (customer_profile_id, outcome, answered_at, answered_by, status, call_type, duration_seconds, "
    "llm_fallbacks)",
    # The customer counts (funnel, statistics): index-only over (agent, level).
    "CREATE INDEX IF NOT EXISTS customer_agent_level_cover_idx ON customers_customerprofile "
    "(ai_agent_id, interest_level) INCLUDE (is_do_not_call)",
    # Reply-time percentiles: the agent turns' latencies without reading the transcript text.
    "CREATE INDEX IF NOT EXISTS turn_agent_latency_idx ON calls_callturn (call_id) INCLUDE (latency_ms) "
    "WHERE speaker = 'agent' AND latency_ms IS NOT NULL",
)


def add_proposed_indexes() -> None:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in PROPOSED_INDEXES:
            cursor.execute(statement)
        for table in ("customers_customerprofile", "calls_callsession", "calls_callturn"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"proposed indexes added in {time.perf_counter() - t0:.1f} s")


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def time_endpoint(http, path: str, requests: int, *, cold: bool = False) -> dict:
    """Time ``requests`` GETs; ``cold`` empties the cache before each (the charts' first view a minute)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm up: connection, templates, first plans
        assert http.get(path).status_code == 200, path
    if cold:
        cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = http.get(path)
    assert response.status_code == 200, path
    queries = list(captured.captured_queries)  # read now: the next request clears the connection's log
    timings = []
    for _ in range(requests):
        if cold:
            cache.clear()
        t0 = time.perf_counter()
        response = http.get(path)
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    slowest = sorted(((float(q["time"]) * 1000, q["sql"]) for q in queries), reverse=True)[:3]
    return {
        "path": path + (" (charts not cached)" if cold else ""),
        "queries": len(queries),
        "p50": percentile(timings, 50),
        "p95": percentile(timings, 95),
        "max": max(timings),
        "slowest": slowest,
    }


def run_timings(args, email: str) -> list[dict]:
    from django.test import Client

    from accounts.models import User

    http = Client()
    http.force_login(User.objects.get(email=email))
    return [
        time_endpoint(http, "/api/dashboard/ai-agent/", args.requests),
        time_endpoint(http, "/", args.requests),
        time_endpoint(http, "/", args.requests, cold=True),
    ]


def counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        out = {}
        for table in (
            "customers_customerprofile",
            "calls_callsession",
            "calls_callturn",
            "callbacks_scheduledcallback",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")
            out[table] = cursor.fetchone()[0]
    return out


def measure(args, maintenance_url: str, *, keep: bool) -> list[dict]:
    """Load (unless --reuse) the tenant at ``args``' size into a fresh database and time the pages."""
    from django.db import connections

    started = time.perf_counter()
    connections.close_all()
    if not args.reuse:
        recreate_database(maintenance_url)
    try:
        if args.reuse:
            email = "owner@scale.bench"
        else:
            _, email = load(args)
            print(f"loaded in {time.perf_counter() - started:.0f} s")
        if args.proposed_indexes:
            add_proposed_indexes()
        rows = counts()
        print(
            "rows: "
            + ", ".join(f"{table.split('_', 1)[1]}={n:,}" for table, n in rows.items())
            + f" (one tenant; calls over {args.days} days)"
        )
        results = run_timings(args, email)
        print(f"\n{'endpoint':<44}{'queries':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}  target p95 <= 100 ms")
        for r in results:
            verdict = "ok" if r["p95"] <= TARGET_P95_MS else "OVER"
            print(f"GET {r['path']:<40}{r['queries']:>8}{r['p50']:>10.1f}{r['p95']:>10.1f}{r['max']:>10.1f}  {verdict}")
        for r in results:
            print(f"\nslowest queries of GET {r['path']}:")
            for ms, sql in r["slowest"]:
                print(f"  {ms:7.1f} ms  {sql[:150]}")
        print(f"\n{args.calls:,} calls measured in {time.perf_counter() - started:.0f} s")
        return results
    finally:
        connections.close_all()
        if not keep:
            drop_database(maintenance_url)


def print_growth(small: list[dict], big: list[dict], *, small_calls: int, big_calls: int) -> bool:
    """Per page: p95 at the full size / p95 at the small one, and the query counts side by side."""
    print(f"\ngrowth {big_calls:,} / {small_calls:,} calls (target p95 ratio <= {TARGET_GROWTH}, query counts equal)")
    print(f"{'endpoint':<44}{'p95 small':>10}{'p95 big':>10}{'ratio':>8}{'queries':>12}")
    good = True
    for s, b in zip(small, big, strict=True):
        ratio = b["p95"] / s["p95"] if s["p95"] else float("inf")
        same = s["queries"] == b["queries"]
        ok = ratio <= TARGET_GROWTH and same
        good &= ok
        print(
            f"GET {b['path']:<40}{s['p95']:>10.1f}{b['p95']:>10.1f}{ratio:>8.2f}"
            f"{s['queries']:>5} = {b['queries']:<4}{'  ok' if ok else '  OVER' if same else '  QUERIES DIFFER'}"
        )
    return good


def main() -> None:
    args = parse_args()
    maintenance_url, bench_url = bench_urls()
    started = time.perf_counter()
    setup_django(bench_url)
    compare = not (args.no_compare or args.reuse) and args.calls > SMALL_CALLS
    small = None
    if compare:
        small_args = argparse.Namespace(**{
            **vars(args), "calls": SMALL_CALLS, "customers": max(100, args.customers * SMALL_CALLS // args.calls),
        })  # fmt: skip
        print(f"--- {small_args.calls:,} calls, {small_args.customers:,} customers ---")
        small = measure(small_args, maintenance_url, keep=False)
        print(f"\n--- {args.calls:,} calls, {args.customers:,} customers ---")
    big = measure(args, maintenance_url, keep=args.keep)
    if small is not None:
        print_growth(small, big, small_calls=SMALL_CALLS, big_calls=args.calls)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
