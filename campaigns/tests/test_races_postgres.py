"""Racing campaign dispatchers on PostgreSQL: every attempt dialled exactly once, limits never exceeded.

Threads, each with its own connection, run the whole tick (claims with SKIP LOCKED, the
placement path with its locks) at once, round after round; between rounds the calls end busy
and the clock moves past the retry spacing. Skipped on SQLite, which has no row locks to race on.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import time, timedelta

import pytest
import time_machine
from django.db import connection, connections

from agents.tests.factories import AIAgentFactory
from calls.models import CallSession
from calls.simulated_phone import SimulatedPhone
from campaigns.dispatch import campaigns_dispatch_inline
from campaigns.models import CampaignLead
from campaigns.tests.conftest import TUESDAY_2PM, customers, running_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS, LEADS, LIMIT, ATTEMPTS = 3, 24, 4, 2


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): SQLite has no SELECT ... FOR UPDATE SKIP LOCKED")


def _race(worker, n: int) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            worker()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_racing_dispatchers_dial_each_attempt_once_skip_none_and_keep_every_limit():
    with time_machine.travel(TUESDAY_2PM, tick=True) as clock:
        agents = []
        for n in range(CLIENTS):
            agent = AIAgentFactory(
                training_level=90, status="active", working_hours_start=time(7), working_hours_end=time(22),
                client__daily_call_limit=10_000, client__timezone="America/New_York",
                client__max_concurrent_calls=LIMIT,
            )  # fmt: skip
            running_campaign(
                agent, customers(agent, LEADS, prefix=f"+1212{n}55"), max_concurrent=LIMIT + 2,
                max_attempts=ATTEMPTS, retry_on=["busy"], retry_spacing_minutes=5,
            )  # fmt: skip
            agents.append(agent)
        most_live = Counter()
        for _ in range(60):
            assert _race(campaigns_dispatch_inline, 4) == []
            for agent in agents:
                live = CallSession.objects.filter(ai_agent=agent, status__in=CallSession.LIVE_STATUSES)
                most_live[agent.pk] = max(most_live[agent.pk], live.count())
                for call in live:
                    SimulatedPhone(agent).hang_up(call.twilio_call_sid, status="busy")
            if not CampaignLead.objects.filter(state__in=("pending", "in_progress")).exists():
                break
            clock.shift(timedelta(minutes=6))

        assert max(most_live.values()) <= LIMIT
        assert max(most_live.values()) == LIMIT  # the limit was reached, so it was tested
        calls_per_lead = Counter(CallSession.objects.values_list("customer_profile", flat=True))
        leads = CampaignLead.objects.all()
        assert len(leads) == CLIENTS * LEADS
        assert {(lead.state, lead.skip_reason, lead.attempts) for lead in leads} == {
            ("skipped", "attempts_used_up", ATTEMPTS)
        }
        assert all(calls_per_lead[lead.customer_id] == ATTEMPTS for lead in leads), "one call per attempt, none lost"
