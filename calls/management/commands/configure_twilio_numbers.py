"""Point agents' Twilio numbers at their webhooks again: ``python manage.py configure_twilio_numbers``.

The product does this when a client sets its agent's number; the command re-applies it, for one
agent (``--agent <public_id>``) or every agent with a number, e.g. after ``PUBLIC_BASE_URL``
changed or someone edited a number in the Twilio console. Safe to run any time.
"""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from agents.models import AIAgent
from calls.numbers import agent_phone_number_configure
from core.errors import DomainError


class Command(BaseCommand):
    help = "Set the voice, fallback and status callback URLs of agents' Twilio numbers."

    def add_arguments(self, parser):
        parser.add_argument("--agent", dest="agent_id", help="Only this agent (its public id).")

    def handle(self, *args, agent_id: str | None, **options):
        agents = AIAgent.objects.select_related("client").exclude(phone_number=None).order_by("created_at")
        if agent_id:
            try:
                public_id = uuid.UUID(agent_id)
            except ValueError:
                raise CommandError(f"--agent must be an agent's public id (a UUID), not {agent_id!r}.") from None
            agents = AIAgent.objects.select_related("client").filter(public_id=public_id)
            if not agents.exists():
                raise CommandError(f"No agent has the public id {public_id}.")
        failed = 0
        for agent in agents:
            try:
                number = agent_phone_number_configure(agent=agent)
            except DomainError as exc:
                failed += 1
                self.stderr.write(f"{agent.public_id} {agent.phone_number or '(no number)'}: {exc.message}")
                continue
            self.stdout.write(
                f"{agent.public_id} {number.phone_number} ({number.sid}): voice {number.voice_url}, "
                f"fallback {number.voice_fallback_url}, status {number.status_callback}"
            )
        if failed:
            raise CommandError(f"{failed} number(s) could not be configured.")
