#!/usr/bin/env python
"""Campaign pacing on PostgreSQL: limits kept, nothing dialled twice or missed, flat dispatcher cost.

    .venv/bin/python bench/campaign_pacing.py            # a few minutes on 2 cores

What it does, on the PostgreSQL server of ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/):

1. Drops and recreates its own database (``--db-name``), migrates it, and for each run creates
   ``--clients`` clients (half with their own Twilio subaccount at ``--sub-cps`` dials per second,
   half sharing the platform account at ``--platform-cps``), each with a concurrency limit of
   ``--concurrency`` and one running campaign. The leads (1,000 then 100,000 in all, split between
   the clients, interest levels mixed so the scores differ) live in a zone where it is midday
   now, except one in ten in a zone where it is night (they must not be dialled).
2. Runs the real path in one process with threads: ``--dispatchers`` threads each run the beat's
   tick (``campaigns.dispatch.campaigns_dispatch``) every ``--tick`` seconds, racing; the claims go
   to ``--placers`` placing threads (``lead_place``, as the Celery tasks do), which dial through the
   simulated gateway paced by ``calls.pacing``. A carrier thread plays the phone network: each
   call rings ``--ring`` seconds (random in the range) and is then held ``--hold`` seconds, and
   ends through ``calls.lifecycle.call_status_update``, as Twilio's status callbacks would.
3. The 1,000-lead run places every lead that may be called; the 100,000-lead run places the first
   1,000 (``--placed``) and stops. Each prints: the highest number of calls live at once per
   client over its limit (exact, from the sessions' start and end; target <= 1.0), the most
   dials in any one-second window per Twilio account over its rate (from the gateway's own
   clock; target <= 1.0), dials outside the lead's calling window (target 0), duplicates (a lead
   with more calls than attempts) and missed (an attempt with no call and not given back, or in
   the 1,000 run a callable lead never called; target 0), the dispatcher's wall time per placed
   call (and the ratio of the 100,000 run to the 1,000 run; target <= 1.2), and the time to place
   the first 1,000.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.callback_dispatch import _drop_database, _recreate_database, _server_url  # noqa: E402


def _zone_at(hour: int) -> str:
    """A fixed-offset zone where it is about ``hour`` o'clock now (Etc/GMT-3 is UTC+3: POSIX signs)."""
    offset = (hour - datetime.now(tz=UTC).hour + 12) % 24 - 12
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def _setup_django(database_url: str, platform_cps: int) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="salesagents.test_settings",
        TELEPHONY_BACKEND="simulated",
        PACE_SIMULATED_PHONE="1",
        TWILIO_CALLS_PER_SECOND=str(platform_cps),
        LLM_PROVIDER="scripted",
        PUBLIC_BASE_URL="https://bench.local",
        DB_CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    import django

    django.setup()


def _load(args, leads: int, run: int) -> dict:
    """Clients, agents, customers and one running campaign per client; returns what the checks need."""
    from django.db import connection

    from accounts.models import Client
    from agents.models import AIAgent
    from campaigns.services import CampaignSpec, campaign_create, campaign_leads_add, campaign_transition
    from customers.models import CustomerProfile

    day, night = _zone_at(13), _zone_at(1)
    per_client = leads // args.clients
    rng = random.Random(run)
    campaigns, limits = [], {}
    for n in range(args.clients):
        own = n % 2 == 0
        client = Client.objects.create(
            name=f"Bench {run}-{n}", slug=f"bench-{run}-{n}", timezone=day, daily_call_limit=10_000_000,
            max_concurrent_calls=args.concurrency, dial_rate_per_second=args.sub_cps,
            twilio_subaccount_sid=f"AC{run:02d}{n:030d}" if own else "", twilio_auth_token="bench" if own else "",
        )  # fmt: skip
        agent = AIAgent.objects.create(
            client=client, name=f"Agent {n}", training_level=90, status="active",
            working_hours_start="06:00", working_hours_end="22:00",
        )  # fmt: skip
        levels = ("cold", "warm", "hot")
        customers = CustomerProfile.objects.bulk_create(
            (
                CustomerProfile(
                    ai_agent=agent,
                    phone_number=f"+1{run}{n:02d}{i:07d}",
                    name=f"Lead {i}",
                    timezone=night if i % 10 == 9 else day,
                    interest_level=rng.choice(levels),
                )
                for i in range(per_client)
            ),
            batch_size=5000,
        )
        campaign = campaign_create(
            agent=agent,
            spec=CampaignSpec(
                name=f"Bench {n}", goal="Book a demo", days_of_week=range(7), window_start=clock_time(8),
                window_end=clock_time(21), max_attempts=2, retry_spacing_minutes=600,
                max_concurrent=args.concurrency,
            ),
        )  # fmt: skip
        campaign_leads_add(campaign=campaign, customers=customers)
        campaigns.append(campaign_transition(campaign=campaign, to="running"))
        limits[agent.pk] = args.concurrency
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE campaigns_campaignlead")
        cursor.execute("VACUUM ANALYZE customers_customerprofile")
    return {"campaigns": campaigns, "limits": limits, "day": day, "night": night}


class Carrier:
    """The phone network: remembers each dial, rings, answers, holds, hangs up (status events)."""

    def __init__(self, args, seed: int):
        self.args = args
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.dials: dict[str, list[float]] = defaultdict(list)  # account -> dial times (gateway clock)
        self.pending: list[tuple[float, str, str, object]] = []  # (when, sid, status, agent_id)
        self.stop = threading.Event()
        self.placed = 0
        self.retried = 0
        self.first_1000_at: float | None = None
        self.started = time.perf_counter()

    def place_call(self, account: str, agent_id, sid: str) -> None:
        now = time.time()
        ring = self.rng.uniform(*self.args.ring)
        hold = self.rng.uniform(*self.args.hold)
        with self.lock:
            self.dials[account].append(now)
            self.pending += [
                (now + ring, sid, "in_progress", agent_id),
                (now + ring + hold, sid, "completed", agent_id),
            ]
            self.placed += 1
            if self.placed == 1000:
                self.first_1000_at = time.perf_counter() - self.started

    def run(self) -> None:
        from django.db import OperationalError, connections

        from agents.models import AIAgent
        from calls.lifecycle import call_status_update
        from calls.webhook_params import TwilioEvent

        agents: dict = {}
        try:
            while not (self.stop.is_set() and not self.pending):
                now = time.time()
                with self.lock:
                    due = sorted(e for e in self.pending if e[0] <= now)
                    self.pending = [e for e in self.pending if e[0] > now]
                retry = []
                for event in due:
                    _, sid, status, agent_id = event
                    agent = agents.get(agent_id) or agents.setdefault(agent_id, AIAgent.objects.get(pk=agent_id))
                    try:
                        applied = call_status_update(
                            agent=agent,
                            event=TwilioEvent(
                                call_sid=sid,
                                from_number="",
                                to_number="",
                                direction="",
                                call_status=status,
                                speech=None,
                                confidence=None,
                                sequence_number=None,
                                answered_by="",
                                call_duration=1,
                                recording_url="",
                                recording_sid="",
                                recording_duration=None,
                                recording_status="",
                                error_code="",
                                turn=None,
                            ),
                        )
                    except OperationalError:  # a deadlock victim: Twilio's retry, or the reconcile tick, sends it again
                        self.retried += 1
                        retry.append((now + 0.05, *event[1:]))
                        continue
                    if applied is None:  # the placer has not written the SID down yet
                        retry.append((now + 0.05, *event[1:]))
                with self.lock:
                    self.pending += retry
                time.sleep(0.02)
        finally:
            connections.close_all()


def _run(args, leads: int, run: int, stop_after: int | None) -> dict:
    from django.db import OperationalError, connections

    from calls import pacing
    from calls.simulated_phone import SimulatedGateway, new_call_sid
    from campaigns.dispatch import campaigns_dispatch, lead_place
    from integrations.twilio import PlacedCall

    loaded = _load(args, leads, run)
    carrier = Carrier(args, seed=run)
    local = threading.local()

    def place_call(self, req):
        sid = new_call_sid()
        carrier.place_call(local.account, local.agent_id, sid)
        return PlacedCall(sid=sid, status="queued", to=req.to, from_=req.from_)

    real_place_call = SimulatedGateway.place_call
    SimulatedGateway.place_call = place_call
    claims: queue.Queue = queue.Queue()
    tick_seconds: list[float] = []
    done = threading.Event()
    errors: list[BaseException] = []
    retried: list[str] = []

    def dispatcher():
        try:
            while not done.is_set():
                started = time.perf_counter()
                campaigns_dispatch(enqueue=claims.put)
                tick_seconds.append(time.perf_counter() - started)
                done.wait(args.tick)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)
        finally:
            connections.close_all()

    def placer():
        try:
            while not done.is_set() or not claims.empty():
                try:
                    lead = claims.get(timeout=0.2)
                except queue.Empty:
                    continue
                client = lead.campaign.ai_agent.client
                local.account = pacing._account(client)[0]
                local.agent_id = lead.campaign.ai_agent_id
                for _ in range(5):  # as the Celery task retries a database error (a deadlock victim)
                    try:
                        lead_place(lead_id=lead.pk, token=lead.claim_token)
                        break
                    except OperationalError as exc:
                        retried.append(repr(exc)[:80])
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)
        finally:
            connections.close_all()

    carrier_thread = threading.Thread(target=carrier.run, name="carrier")
    threads = [threading.Thread(target=dispatcher) for _ in range(args.dispatchers)]
    threads += [threading.Thread(target=placer) for _ in range(args.placers)]
    carrier.started = time.perf_counter()
    carrier_thread.start()
    for thread in threads:
        thread.start()
    from campaigns.models import CampaignLead

    deadline = time.perf_counter() + args.timeout
    while time.perf_counter() < deadline and not errors:
        if stop_after is not None and carrier.placed >= stop_after:
            break
        open_leads = CampaignLead.objects.filter(
            campaign__in=loaded["campaigns"], state__in=("pending", "in_progress"), timezone=loaded["day"]
        )
        if stop_after is None and not open_leads.exists():
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - carrier.started
    done.set()
    for thread in threads:
        thread.join(timeout=120)
    carrier.stop.set()
    carrier_thread.join(timeout=120)
    SimulatedGateway.place_call = real_place_call
    if errors:
        raise errors[0]
    verified = _verify(args, loaded, carrier, stop_after)
    return {**verified, "elapsed": elapsed, "ticks": tick_seconds, "carrier": carrier, "retried": len(retried)}


def _verify(args, loaded: dict, carrier: Carrier, stop_after: int | None) -> dict:
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from calls.models import CallSession
    from campaigns.dispatch import window_open
    from campaigns.models import CampaignLead

    campaigns = {c.pk: c for c in loaded["campaigns"]}
    calls = list(
        CallSession.objects.filter(ai_agent__campaigns__in=campaigns.values()).values(
            "ai_agent_id", "customer_profile_id", "created_at", "ended_at", "twilio_call_sid", "status"
        )
    )
    # Concurrency, exact: +1 when a session is recorded, -1 when it ends.
    events = defaultdict(list)
    for call in calls:
        events[call["ai_agent_id"]].append((call["created_at"], 1))
        events[call["ai_agent_id"]].append((call["ended_at"] or datetime.max.replace(tzinfo=UTC), -1))
    worst_concurrency = 0.0
    for agent_id, items in events.items():
        live = peak = 0
        for _, step in sorted(items, key=lambda e: (e[0], e[1])):
            live += step
            peak = max(peak, live)
        worst_concurrency = max(worst_concurrency, peak / loaded["limits"][agent_id])
    # Dials per second per account, in any one-second window [t, t + 1).
    worst_cps = 0.0
    for account, times in carrier.dials.items():
        rate = settings.TWILIO_CALLS_PER_SECOND if account == "platform" else args.sub_cps
        times.sort()
        j = 0
        for i, t in enumerate(times):
            while times[j] <= t - 1.0:
                j += 1
            worst_cps = max(worst_cps, (i - j + 1) / rate)
    # Outside the window, duplicates, missed.
    leads = {
        (lead.customer_id): lead
        for lead in CampaignLead.objects.filter(campaign__in=campaigns.values()).only(
            "customer_id", "campaign_id", "attempts", "state", "timezone", "current_call_id"
        )
    }
    per_lead = Counter(call["customer_profile_id"] for call in calls if call["twilio_call_sid"])
    outside = 0
    for call in calls:
        lead = leads[call["customer_profile_id"]]
        outside += not window_open(campaigns[lead.campaign_id], ZoneInfo(lead.timezone), call["created_at"])
    duplicates = sum(1 for customer_id, n in per_lead.items() if n > leads[customer_id].attempts)
    lost = sum(1 for lead in leads.values() if lead.attempts > per_lead[lead.customer_id])
    never = 0
    if stop_after is None:
        never = sum(1 for lead in leads.values() if lead.timezone == loaded["day"] and per_lead[lead.customer_id] == 0)
    states = Counter(CampaignLead.objects.filter(campaign__in=campaigns.values()).values_list("state", flat=True))
    return {
        "calls": len(calls),
        "worst_concurrency": worst_concurrency,
        "worst_cps": worst_cps,
        "outside": outside,
        "duplicates": duplicates,
        "missed": lost + never,
        "states": dict(states),
        "night_called": sum(1 for c in calls if leads[c["customer_profile_id"]].timezone == loaded["night"]),
    }


def _print(name: str, result: dict, placed_target: int | None) -> float:
    ticks = result["ticks"]
    placed = result["carrier"].placed
    per_call = 1000 * sum(ticks) / placed if placed else float("nan")
    first = result["carrier"].first_1000_at
    print(f"\n== {name}")
    print(f"placed {placed} calls in {result['elapsed']:.1f} s; lead states now {result['states']}")
    print(f"highest concurrent calls per client / its limit: {result['worst_concurrency']:.2f}   (target <= 1.0)")
    print(f"most dials in one second per Twilio account / its rate: {result['worst_cps']:.2f}   (target <= 1.0)")
    night = result["night_called"]
    print(f"dials outside the lead's calling window: {result['outside']} (night leads dialled: {night})   (target 0)")
    print(f"duplicates: {result['duplicates']}   missed: {result['missed']}   (target 0 and 0)")
    print(f"dispatcher: {len(ticks)} ticks, {1000 * sum(ticks):.0f} ms in all, {per_call:.2f} ms per placed call")
    print(f"time to place the first 1,000: {first:.1f} s" if first else "time to place the first 1,000: (fewer placed)")
    carrier = result["carrier"]
    print(f"database errors retried: {result['retried']} placements, {carrier.retried} status events")
    return per_call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--db-name", default="salesagents_campaign_bench")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--sub-cps", type=int, default=5)
    parser.add_argument("--platform-cps", type=int, default=5)
    parser.add_argument("--ring", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN", "MAX"))
    parser.add_argument("--hold", type=float, nargs=2, default=(1.0, 4.0), metavar=("MIN", "MAX"))
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--placers", type=int, default=24)
    parser.add_argument("--tick", type=float, default=0.5)
    parser.add_argument("--placed", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=(1000, 100_000))
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    database_url = _server_url(args.database_url, args.db_name)
    _recreate_database(args.database_url, args.db_name)
    _setup_django(database_url, args.platform_cps)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    print(
        f"{args.clients} clients (half on their own subaccount at {args.sub_cps}/s, half sharing the platform "
        f"account at {args.platform_cps}/s), {args.concurrency} calls at once each; "
        f"ring {args.ring[0]}-{args.ring[1]} s, hold {args.hold[0]}-{args.hold[1]} s; "
        f"{args.dispatchers} dispatchers every {args.tick} s, {args.placers} placers"
    )
    costs = []
    try:
        for run, size in enumerate(args.sizes, start=1):
            loading = time.perf_counter()
            stop_after = None if size <= args.placed else args.placed
            result = _run(args, size, run, stop_after)
            loaded_in = time.perf_counter() - loading - result["elapsed"]
            name = f"{size:,} leads" + (f" (first {stop_after:,} placed)" if stop_after else "")
            name += f" (loading and checking took {loaded_in:.0f} s)"
            costs.append(_print(name, result, stop_after))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _drop_database(args.database_url, args.db_name)
    if len(costs) == 2:
        ratio = costs[1] / costs[0]
        sizes = f"{args.sizes[1]:,} vs {args.sizes[0]:,} leads"
        print(f"\ndispatcher cost per placed call, {sizes}: {ratio:.2f}   (target <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
