"""Load a demo client with a trained agent, customers, past calls and callbacks.

Idempotent: every object has a stable key, so running it again changes nothing.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from accounts.models import Client, User
from agents.models import AIAgent
from agents.services import agent_setup, training_add
from callbacks.models import ScheduledCallback
from calls.day_counts import call_day_counts_rebuild
from calls.models import CallSession, CallTurn
from calls.outcomes import agent_learn_calls, interest_after
from calls.sentiment import lexicon_sentiment
from customers.contactability import booking_zone, next_allowed_time
from customers.level_counts import customer_level_counts_rebuild
from customers.models import CustomerProfile
from customers.services import customer_get_or_create

DEMO_EMAIL = "demo@salesagents.local"
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - a published demo login, local only
AREA_CODES = ["212", "415", "312", "617", "206", "305", "713", "303"]
FIRST = ["Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Ivy", "Lucas", "Nora", "Owen", "Ruby", "Leo"]
LAST = ["Patel", "Garcia", "Kim", "Nguyen", "Smith", "Brown", "Lopez", "Khan", "Rossi", "Chen"]
OUTCOMES = [
    ("answered", 18), ("interested", 16), ("not_interested", 14), ("converted", 8),
    ("callback_requested", 12), ("voicemail", 10), ("no_answer", 14), ("failed", 3),
]  # fmt: skip
# What a caller says after the greeting, the agent's trained answer, and the objection it answered
# (recorded on the agent's turn as the engine does, so learning counts it).
EXCHANGES = [
    ("It sounds too expensive.", "price_too_high",
     "I hear you. With $0 down, most homeowners pay less each month than their old bill."),
    ("We already have a provider.", "already_have_provider",
     "Many of our customers switched from another provider. Let me compare."),
    ("I'm busy right now.", "no_time", "No problem at all. When would be a better time for a two-minute call?"),
    ("Tell me more, that sounds great.", "",
     "Tier-1 panels and a 10 kWh battery, $0 down, from $89 a month. Shall I check your roof?"),
]  # fmt: skip


def _allowed_before(*, agent: AIAgent, customer: CustomerProfile, at: datetime, now: datetime) -> datetime:
    """The first callable moment at or after ``at`` that is already past: when a real call could have been."""
    zone = booking_zone(customer, agent)
    while True:
        slot = next_allowed_time(agent=agent, zone=zone, at=at)
        if slot is not None and slot + timedelta(minutes=10) <= now:
            return slot
        at -= timedelta(days=1)


class Command(BaseCommand):
    help = "Load the demo client (idempotent) and print its login."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=40)
        parser.add_argument("--calls", type=int, default=160)

    def handle(self, *args, customers: int, calls: int, **options):
        rng = random.Random(2026)  # same demo every time
        client, _ = Client.objects.get_or_create(
            slug="demo", defaults={"name": "Sunrise Solar", "timezone": "America/New_York"}
        )
        if not User.objects.filter(email=DEMO_EMAIL).exists():
            User.objects.create_user(
                DEMO_EMAIL, DEMO_PASSWORD, client=client, role=User.Role.OWNER, full_name="Demo Owner"
            )
        agent = AIAgent.objects.filter(client=client).first() or self._agent(client)
        people = []
        for i in tqdm(range(customers), desc="customers", unit="row", disable=options["verbosity"] == 0):
            phone = f"+1{AREA_CODES[i % len(AREA_CODES)]}555{i:04d}"
            customer, created = customer_get_or_create(agent=agent, phone_number=phone)
            if created:
                customer.name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}"
                customer.email = f"{customer.name.split()[0].lower()}{i}@example.com"
                customer.save(update_fields=["name", "email"])
            people.append(customer)
        self._calls(agent, people, calls, rng, quiet=options["verbosity"] == 0)
        self._callbacks(agent, people)
        call_day_counts_rebuild(agent=agent)  # the history was bulk-loaded past the counting services
        customer_level_counts_rebuild(agent=agent)
        # Fold the history into the agent's memory now, so insights and charts show on first login.
        learned = agent_learn_calls(
            agent=agent, calls=list(CallSession.objects.filter(ai_agent=agent, outcome_learned=False))
        )
        if learned:
            self.stdout.write(f"Learned from {learned} past calls.")
        self.stdout.write(self.style.SUCCESS(f"Demo client ready. Log in at /login/ as {DEMO_EMAIL} / {DEMO_PASSWORD}"))

    def _agent(self, client: Client) -> AIAgent:
        agent = agent_setup(
            client=client,
            name="Sarah",
            personality_type="friendly",
            phone_number="+14155550100",
            business_info={
                "company_name": "Sunrise Solar",
                "product_description": "Rooftop solar panels with battery storage for homes",
                "value_proposition": "Cut your electricity bill by up to 70% with no upfront cost",
            },
            sales_goals={"target_conversions": 50, "avg_deal_size": 12000},
        )
        training_add(
            agent=agent, training_type="script",
            training_content=(
                "Hi, this is [NAME] from [COMPANY]. We help homeowners in your area switch to solar with no "
                "upfront cost, and most of our customers cut their electricity bill by more than half in the first "
                "month. I'd love to ask you a couple of quick questions to see whether your roof would qualify for "
                "the state rebate this year. Do you have two minutes?"
            ),
        )  # fmt: skip
        training_add(
            agent=agent, training_type="product",
            product_details={
                "features": ["Tier-1 panels", "10 kWh home battery", "Live energy app"],
                "pricing": "$0 down, from $89/month",
                "benefits": ["Lower bills", "Backup power in outages", "25-year warranty"],
            },
        )  # fmt: skip
        training_add(
            agent=agent, training_type="objection_handling",
            objection_responses={
                "price_too_high": "I hear you. With $0 down, most homeowners pay less each month than their old bill.",
                "not_interested": "I understand. May I ask what your main concern is?",
                "need_to_think": "Of course. Can I send you a quick savings estimate to look at?",
                "already_have_provider": "Many of our customers switched from another provider. Let me compare.",
                "no_time": "No problem at all. When would be a better time for a two-minute call?",
            },
        )  # fmt: skip
        training_add(
            agent=agent, training_type="techniques",
            sales_techniques=["rapport_building", "needs_assessment", "solution_presentation", "trial_close"],
        )  # fmt: skip
        training_add(
            agent=agent, training_type="faq",
            faq={
                "How long does installation take?": "Installation takes one day after the permit is approved.",
                "Do you offer a warranty?": "Yes, 25 years on panels and 10 years on the battery.",
                "Is my roof suitable?": "We check by satellite first, free of charge.",
            },
        )  # fmt: skip
        agent.refresh_from_db()
        return agent

    @transaction.atomic
    def _calls(self, agent: AIAgent, people: list[CustomerProfile], count: int, rng: random.Random, quiet: bool):
        # Historical calls are bulk-loaded as they would have been left by finished calls.
        existing = set(
            CallSession.objects.filter(ai_agent=agent, twilio_call_sid__startswith="CAdemo").values_list(
                "twilio_call_sid", flat=True
            )
        )
        now = timezone.now()
        outcomes, weights = zip(*OUTCOMES, strict=True)
        sessions, turns = [], []
        for i in tqdm(range(count), desc="calls", unit="call", disable=quiet):
            sid = f"CAdemo{i:026d}"
            outcome = rng.choices(outcomes, weights)[0]
            customer = people[rng.randrange(len(people))]
            if sid in existing:
                continue
            # A moment the agent could really have called, in the past whatever the hour of seeding.
            asked = now - timedelta(days=rng.randrange(0, 14), hours=rng.randrange(0, 24), minutes=rng.randrange(60))
            started = _allowed_before(agent=agent, customer=customer, at=asked, now=now)
            started += timedelta(minutes=rng.randrange(0, 30))
            answered = outcome not in ("no_answer", "failed")
            duration = rng.randrange(40, 400) if answered else 0
            spoken = answered and outcome != "voicemail"
            said, objection, answer = rng.choice(EXCHANGES)
            session = CallSession(
                ai_agent=agent, customer_profile=customer, twilio_call_sid=sid,
                call_type=rng.choice(["outbound", "outbound", "inbound", "scheduled"]),
                status="completed" if answered else ("no_answer" if outcome == "no_answer" else "failed"),
                outcome=outcome, started_at=started, answered_at=started + timedelta(seconds=8) if answered else None,
                ended_at=started + timedelta(seconds=duration + 10), duration_seconds=duration,
                answered_by="human" if outcome != "voicemail" else "machine_end_beep",
                # Judged from what the caller said, as a finished call is: no "Positive 0.00".
                sentiment_analysis=lexicon_sentiment([said]) if spoken else {},
            )  # fmt: skip
            sessions.append(session)
            if spoken:
                lines = [
                    ("agent", "Hi, this is Sarah from Sunrise Solar. This call is with an AI assistant.", []),
                    ("caller", said, []),
                    ("agent", answer, [{"type": "answered_objection", "key": objection}] if objection else []),
                ]
                for seq, (speaker, text, actions) in enumerate(lines):
                    turns.append(
                        CallTurn(
                            call=session, sequence=seq, speaker=speaker, text=text, actions=actions,
                            spoken_at=started + timedelta(seconds=10 * seq),
                            latency_ms=rng.randrange(180, 900) if speaker == "agent" else None,
                            provider="scripted" if speaker == "agent" else "",
                        )
                    )  # fmt: skip
        CallSession.objects.bulk_create(sessions, batch_size=500)
        CallTurn.objects.bulk_create(turns, batch_size=1000)
        if sessions:
            # In the order they happened, by the same ladder a finished call climbs.
            for session in sorted(sessions, key=lambda s: s.started_at):
                c = session.customer_profile
                c.total_calls += 1
                c.successful_calls += session.outcome in ("interested", "converted")
                c.last_contacted_at = max(filter(None, [c.last_contacted_at, session.started_at]))
                c.interest_level = interest_after(c.interest_level, session.outcome)
                c.is_converted = c.interest_level == "converted"
            CustomerProfile.objects.bulk_update(
                people, ["total_calls", "successful_calls", "last_contacted_at", "interest_level", "is_converted"]
            )
            agent.calls_handled += len(sessions)
            agent.successful_conversions += sum(s.outcome == "converted" for s in sessions)
            agent.save(update_fields=["calls_handled", "successful_conversions"])

    def _callbacks(self, agent: AIAgent, people: list[CustomerProfile]) -> None:
        now = timezone.now()
        plan = [(people[i], timedelta(hours=6 * i - 20), (i % 5) + 1) for i in range(min(12, len(people)))]
        for customer, offset, priority in plan:
            # Overdue ones at a past callable moment, upcoming ones at the next: never at 03:00.
            if offset < timedelta(0):
                when = _allowed_before(agent=agent, customer=customer, at=now + offset, now=now)
            else:
                when = next_allowed_time(agent=agent, zone=booking_zone(customer, agent), at=now + offset)
            ScheduledCallback.objects.get_or_create(
                ai_agent=agent, customer_profile=customer, reason="Demo: discuss pricing options",
                defaults={"scheduled_datetime": when, "priority_level": priority,
                          "expected_outcome": "Book a roof survey"},
            )  # fmt: skip
