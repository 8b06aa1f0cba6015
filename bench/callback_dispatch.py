#!/usr/bin/env python
"""Placing due callbacks at scale: 1,000,000 scheduled, 10,000 due, 2 worker processes.

    .venv/bin/python bench/callback_dispatch.py          # a few minutes on 2 cores; make bench-callbacks

On the PostgreSQL server of ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/):

1. Drops and recreates its own database (``--db-name``, default ``salesagents_bench``), migrates
   it, and bulk-loads ``--total`` scheduled callbacks for ``--clients`` x ``--customers``
   customers: ``--due`` of them due (on distinct customers, priorities 1-5, up to an hour late),
   the rest up to 30 days ahead, in a timezone where it is about noon, so the rules allow every
   due call; and ``--history`` past calls over the last 60 days, which the rules read at dial time.
   The late callbacks are flagged overdue, as the ticks before would have left them.
2. Baseline: ``--workers`` processes run the bare claim loop (``callbacks_claim_due`` until
   nothing is due, no placement); then the claims are undone.
3. The run: the same number of processes run the dispatcher's tick without a queue
   (``callbacks_dispatch_due()``, what the ``dispatch_callbacks`` command runs): each claimed set
   placed through the one placement path (ADR 0014): rules at dial time, daily limit, call
   sessions, simulated dials, Twilio's SIDs written back. Only the Celery transport is left out.
4. Prints both times and their ratio (target <= 3x), duplicates (callbacks with more than one
   call; target 0) and missed (due callbacks with no call; target 0), and drops the database
   (``--keep`` keeps it). Each process is started, connected and has loaded the URLconf (as a
   running worker has) before the clock starts.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RATIO = 3.0
CHUNK = 100_000


def _server_url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def _daytime_zone() -> str:
    """A fixed-offset zone where it is about noon now (Etc/GMT-3 is UTC+3: POSIX signs)."""
    offset = (12 - datetime.now(tz=UTC).hour + 12) % 24 - 12
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def _environment(database_url: str) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="salesagents.test_settings",  # production settings + test-only secrets
        TELEPHONY_BACKEND="simulated",
        LLM_PROVIDER="scripted",
        PUBLIC_BASE_URL="https://bench.local",
        DB_CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)


def _setup_django(database_url: str) -> None:
    _environment(database_url)
    import django

    django.setup()


def _recreate_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(_server_url(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(_server_url(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _columns(model, varying: dict[str, str]) -> tuple[str, str]:
    """(column list, select list): ``varying`` columns get an expression, the rest copy the template."""
    names = [f.column for f in model._meta.concrete_fields]
    select = [varying.get(name, f"t.{name}") for name in names]
    return ", ".join(f'"{n}"' for n in names), ", ".join(select)


def _load(args) -> dict:
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from tqdm import tqdm

    from accounts.tests.factories import ClientFactory
    from agents.tests.factories import AIAgentFactory
    from callbacks.claims import callbacks_flag_overdue
    from callbacks.models import ScheduledCallback
    from customers.models import CustomerProfile

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    zone = _daytime_zone()
    now = timezone.now()
    agents = []
    with transaction.atomic():
        for n in range(args.clients):
            client = ClientFactory(
                name=f"Bench client {n}",
                slug=f"bench-{n}",
                timezone=zone,
                daily_call_limit=args.due,
                max_concurrent_calls=500,  # the most a client may set: every due call may be live at once
            )
            agents.append(
                AIAgentFactory(
                    client=client,
                    training_level=90,
                    status="active",
                    working_hours_start="06:00",
                    working_hours_end="22:00",
                )
            )
        template_customer = CustomerProfile.objects.create(
            ai_agent=agents[0], phone_number="+15550000000", timezone=zone, name="Template"
        )
    customers_table = CustomerProfile._meta.db_table
    callbacks_table = ScheduledCallback._meta.db_table
    with connection.cursor() as cursor:
        cols, select = _columns(
            CustomerProfile,
            {
                "id": "gen_random_uuid()",
                "ai_agent_id": "a.id",
                "phone_number": "'+1' || lpad((a.rn * 100000 + g)::text, 10, '0')",
                "name": "'Customer ' || g",
            },
        )
        cursor.execute(
            f"INSERT INTO {customers_table} ({cols}) SELECT {select} FROM {customers_table} t, "
            "(SELECT id, row_number() OVER (ORDER BY id) AS rn FROM agents_aiagent) a, "
            "generate_series(0, %s::int - 1) g WHERE t.id = %s",
            [args.customers, template_customer.pk],
        )
        cursor.execute(f"DELETE FROM {customers_table} WHERE id = %s", [template_customer.pk])
        cursor.execute(
            "CREATE TEMP TABLE bench_customers AS SELECT id, ai_agent_id, "
            f"(row_number() OVER (ORDER BY phone_number) - 1) AS n FROM {customers_table}"
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_customers (n)")
        cursor.execute("SELECT count(*) FROM bench_customers")
        (customers,) = cursor.fetchone()
    template = ScheduledCallback.objects.create(
        ai_agent=agents[0], customer_profile=CustomerProfile.objects.filter(ai_agent=agents[0]).first(),
        scheduled_datetime=now, reason="Customer asked for a callback",
    )  # fmt: skip
    cols, select = _columns(
        ScheduledCallback,
        {
            "id": "gen_random_uuid()",
            "ai_agent_id": "c.ai_agent_id",
            "customer_profile_id": "c.id",
            "priority_level": "1 + g %% 5",
            # Due ones are up to an hour late; the rest from an hour to 30 days ahead.
            "scheduled_datetime": "CASE WHEN g < %(due)s THEN %(now)s - (g %% 3600) * interval '1 second' "
            "ELSE %(now)s + interval '1 hour' + (g %% 2592000) * interval '1 second' END",
            "created_at": "%(now)s",
            "updated_at": "%(now)s",
        },
    )
    # Due callbacks go to distinct customers spread over all clients (customers are numbered by phone).
    insert = (
        f"INSERT INTO {callbacks_table} ({cols}) SELECT {select} "
        f"FROM {callbacks_table} t, generate_series(%(lo)s::bigint, %(hi)s::bigint) g "
        "JOIN bench_customers c ON c.n = (g * 7919) %% %(customers)s WHERE t.id = %(template)s"
    )
    with connection.cursor() as cursor, tqdm(total=args.total, unit="row", desc="callbacks", mininterval=1) as bar:
        for lo in range(0, args.total, CHUNK):
            hi = min(lo + CHUNK, args.total) - 1
            cursor.execute(
                insert,
                {"lo": lo, "hi": hi, "due": args.due, "now": now, "customers": customers, "template": template.pk},
            )
            bar.update(hi - lo + 1)
        cursor.execute(f"DELETE FROM {callbacks_table} WHERE id = %s", [template.pk])
    _load_history(args, now, agents[0])
    # The late ones flagged overdue, as earlier ticks would have left them: a tick flags each
    # callback once, when it becomes late, and this load made 10,000 late at once.
    callbacks_flag_overdue(now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {callbacks_table}")
        cursor.execute(f"VACUUM ANALYZE {customers_table}")
        cursor.execute("CHECKPOINT")  # the load's writes flushed now, not in the middle of a measurement
        cursor.execute(
            f"SELECT count(*), count(*) FILTER (WHERE scheduled_datetime <= %s) FROM {callbacks_table}",
            [now],
        )
        total, due = cursor.fetchone()
    return {"seconds": time.perf_counter() - started, "total": total, "due": due, "customers": customers, "now": now}


def _load_history(args, now, agent) -> None:
    """Past calls: ``--history`` completed calls over the last 60 days, spread over the customers.

    A platform holding a million callbacks has a call history, and the rules read it at dial time
    (one live call per customer, calls per contact per week). Without one the call table starts
    empty and unanalysed, and those reads scan a table that grows through the run, a cost no
    production table has.
    """
    from django.db import connection

    from calls.models import CallSession
    from customers.models import CustomerProfile

    if not args.history:
        return
    template = CallSession.objects.create(
        ai_agent=agent, customer_profile=CustomerProfile.objects.filter(ai_agent=agent).first(),
        call_type=CallSession.CallType.OUTBOUND, status=CallSession.Status.COMPLETED,
        outcome=CallSession.Outcome.NOT_INTERESTED, started_at=now, duration_seconds=90,
    )  # fmt: skip
    cols, select = _columns(
        CallSession,
        {
            "id": "gen_random_uuid()",
            "ai_agent_id": "c.ai_agent_id",
            "customer_profile_id": "c.id",
            "twilio_call_sid": "'CAhistory' || g",
            "started_at": "%(now)s - interval '1 hour' - (g %% 5184000) * interval '1 second'",
            "answered_at": "%(now)s - interval '1 hour' - (g %% 5184000) * interval '1 second'",
            "ended_at": "%(now)s - interval '1 hour' - (g %% 5184000) * interval '1 second' + interval '90 seconds'",
            "created_at": "%(now)s",
            "updated_at": "%(now)s",
        },
    )
    table = CallSession._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {select} FROM {table} t, "
            "generate_series(0, %(history)s::bigint - 1) g "
            "JOIN bench_customers c ON c.n = (g * 104729) %% %(customers)s WHERE t.id = %(template)s",
            {"history": args.history, "now": now, "customers": args.clients * args.customers, "template": template.pk},
        )
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [template.pk])
        cursor.execute(f"VACUUM ANALYZE {table}")


def _worker(database_url: str, mode: str, batch: int, ready, go, results) -> None:
    """One worker process: set up and connect, wait for the start, then claim (and place) until done."""
    _setup_django(database_url)
    from django.db import connection
    from django.urls import get_resolver

    from callbacks.claims import callbacks_claim_due
    from calls.dispatch import callbacks_dispatch_due

    connection.ensure_connection()
    get_resolver().check()  # load the URLconf a running worker has loaded (webhook URLs of each dial)
    ready.set()
    go.wait()
    started = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    counts: Counter = Counter()
    if mode == "claim":
        while claimed := callbacks_claim_due(limit=batch):
            counts["claimed"] += len(claimed)
    else:
        report = callbacks_dispatch_due(batch=batch, max_claims=None)
        counts["claimed"] = report.claimed + report.reclaimed
        counts.update(str(p.result) for p in report.placements)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    results.put({"seconds": time.perf_counter() - started, "cpu": cpu, "counts": dict(counts)})
    connection.close()


def _run(database_url: str, mode: str, workers: int, batch: int) -> tuple[float, float, Counter]:
    """(wall seconds, worker CPU seconds, counts) of ``workers`` processes started together."""
    ctx = mp.get_context("spawn")  # each worker sets Django up itself: no connection shared by fork
    go = ctx.Event()
    results = ctx.Queue()
    readies = [ctx.Event() for _ in range(workers)]
    procs = [
        ctx.Process(target=_worker, args=(database_url, mode, batch, ready, go, results), daemon=True)
        for ready in readies
    ]
    for proc in procs:
        proc.start()
    for ready in readies:
        if not ready.wait(timeout=120):
            raise RuntimeError("a worker did not start")
    started = time.perf_counter()
    go.set()
    out = [results.get(timeout=1200) for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join(timeout=30)
    counts: Counter = Counter()
    for r in out:
        counts.update(r["counts"])
    return elapsed, sum(r["cpu"] for r in out), counts


def _undo_claims() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE callbacks_scheduledcallback SET status = 'scheduled', attempts = 0, lease_expires_at = NULL "
            "WHERE status = 'in_progress'"
        )
        cursor.execute("VACUUM ANALYZE callbacks_scheduledcallback")
        cursor.execute("CHECKPOINT")


def _verify(now) -> tuple[int, int, int]:
    """(duplicates, missed, calls without Twilio's SID)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT callback_id FROM calls_callsession WHERE callback_id IS NOT NULL "
            "GROUP BY callback_id "
            "HAVING count(*) > 1) d"
        )
        (duplicates,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM callbacks_scheduledcallback cb WHERE cb.scheduled_datetime <= %s "
            "AND NOT EXISTS (SELECT 1 FROM calls_callsession c WHERE c.callback_id = cb.id)",
            [now],
        )
        (missed,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM calls_callsession WHERE twilio_call_sid IS NULL")
        (without_sid,) = cursor.fetchone()
    return duplicates, missed, without_sid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=1_000_000, help="scheduled callbacks (default 1,000,000)")
    parser.add_argument("--due", type=int, default=10_000, help="of which due now (default 10,000)")
    parser.add_argument("--clients", type=int, default=100, help="clients, one agent each (default 100)")
    parser.add_argument("--customers", type=int, default=1_000, help="customers per client (default 1,000)")
    parser.add_argument(
        "--history", type=int, default=200_000, help="past calls, over the last 60 days (default 200,000)"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--batch", type=int, default=100, help="callbacks per claim (default 100)")
    parser.add_argument("--db-name", default="salesagents_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.due > args.clients * args.customers:
        parser.error("--due must not exceed --clients x --customers (due callbacks go to distinct customers)")

    server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not server.startswith(("postgres://", "postgresql://")):
        parser.error("DATABASE_URL must point at a PostgreSQL server")
    database_url = _server_url(server, args.db_name)
    load = os.getloadavg()
    print(f"== callback dispatch benchmark: database {args.db_name} on {urlsplit(server).hostname}")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
    _recreate_database(server, args.db_name)
    try:
        _setup_django(database_url)
        from django.db import connection

        loaded = _load(args)
        print(
            f"loaded {loaded['total']:,} callbacks ({loaded['due']:,} due) for {loaded['customers']:,} customers "
            f"of {args.clients} clients, with {args.history:,} past calls, in {loaded['seconds']:.1f} s"
        )
        connection.close()
        base_s, base_cpu, base = _run(database_url, "claim", args.workers, args.batch)
        _undo_claims()
        connection.close()
        run_s, run_cpu, run = _run(database_url, "place", args.workers, args.batch)
        duplicates, missed, without_sid = _verify(loaded["now"])
        connection.close()

        shape = f"{args.workers} processes, batches of {args.batch}"
        placed = run.get("placed", 0)
        print(f"\n== {shape}")
        print(f"bare claim loop: claimed {base['claimed']:,} in {base_s:.2f} s, worker CPU {base_cpu:.1f} s")
        results = ", ".join(f"{k} {v:,}" for k, v in sorted(run.items()) if k != "claimed")
        print(
            f"claim + place:   claimed {run['claimed']:,} in {run_s:.2f} s, worker CPU {run_cpu:.1f} s ({results}); "
            f"{without_sid} calls without a SID"
        )
        ratio = run_s / base_s if base_s else float("inf")
        cpu_ratio = run_cpu / base_cpu if base_cpu else float("inf")
        ok_ratio = ratio <= TARGET_RATIO and placed == loaded["due"]
        print(f"\nratio claim+place / bare claim: {ratio:.2f}x wall ({cpu_ratio:.2f}x worker CPU)  "
              f"target <= {TARGET_RATIO:.0f}x  {'PASS' if ok_ratio else 'FAIL'}")  # fmt: skip
        print(f"placed:     {placed:,} of {loaded['due']:,} due ({placed / run_s:,.0f}/s)")
        print(f"duplicates: {duplicates}  target 0  {'PASS' if duplicates == 0 else 'FAIL'}")
        print(f"missed:     {missed}  target 0  {'PASS' if missed == 0 else 'FAIL'}")
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
        return 0 if ok_ratio and duplicates == 0 and missed == 0 else 1
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _drop_database(server, args.db_name)
            print(f"dropped database {args.db_name}")


if __name__ == "__main__":
    sys.exit(main())
