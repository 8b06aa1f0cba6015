"""Recount the dashboard's counters from the rows: ``python manage.py dashboard_counts_rebuild``.

The services keep calls per day (``calls.day_counts``) and customers per level
(``customers.level_counts``) as they write; this recomputes them, for one agent
(``--agent <public_id>``) or all: once after the migration that added them, after rows were
loaded behind the services' back (a bulk SQL load), or after a client changed its timezone
(days are the client's). Idempotent; run it while the agent is quiet.
"""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from agents.models import AIAgent
from calls.day_counts import call_day_counts_rebuild
from customers.level_counts import customer_level_counts_rebuild


class Command(BaseCommand):
    help = "Recompute the dashboard's calls-per-day and customers-per-level counters from the rows."

    def add_arguments(self, parser):
        parser.add_argument("--agent", dest="agent_id", help="Only this agent (its public id).")

    def handle(self, *args, agent_id: str | None, **options):
        agents = AIAgent.objects.select_related("client").order_by("created_at")
        if agent_id:
            try:
                public_id = uuid.UUID(agent_id)
            except ValueError:
                raise CommandError(f"--agent must be an agent's public id (a UUID), not {agent_id!r}.") from None
            agents = agents.filter(public_id=public_id)
            if not agents.exists():
                raise CommandError(f"No agent has the public id {public_id}.")
        for agent in agents:
            customer_level_counts_rebuild(agent=agent)
            days = call_day_counts_rebuild(agent=agent)
            if options["verbosity"]:
                self.stdout.write(f"Agent {agent.public_id}: {days} day buckets recounted.")
