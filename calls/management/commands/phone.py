"""A phone in the terminal: call the agent (or answer its outbound call) and talk by typing.

    python manage.py phone --agent demo --from +12125550123
    python manage.py phone --agent demo --answer          # pick up the latest ringing outbound call

Every line goes through the same signed webhooks Twilio would call.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from agents.models import AIAgent
from calls.models import CallSession
from calls.simulated_phone import Screen, SimulatedPhone
from core.errors import ValidationFailed
from core.phone import normalize_e164


def find_agent(ref: str) -> AIAgent:
    agents = AIAgent.objects.select_related("client")
    agent = agents.filter(client__slug=ref).first()
    if agent is None:
        try:
            agent = agents.filter(public_id=ref).first()
        except Exception:  # noqa: BLE001 - not a UUID either
            agent = None
    if agent is None:
        raise CommandError(f"No agent for '{ref}'. Give a client slug (e.g. demo) or the agent's public id.")
    return agent


class Command(BaseCommand):
    help = "Talk to an agent from the terminal through the simulated phone."

    def add_arguments(self, parser):
        parser.add_argument("--agent", required=True, help="Client slug or agent public id.")
        parser.add_argument("--from", dest="from_number", default="+12025550143", help="Your (the caller's) number.")
        parser.add_argument("--answer", action="store_true", help="Answer the latest ringing outbound call instead.")

    def handle(self, *args, agent: str, from_number: str, answer: bool, **options):
        phone = SimulatedPhone(find_agent(agent))
        if answer:
            call = (
                CallSession.objects.filter(ai_agent=phone.agent, answered_at__isnull=True)
                .exclude(status__in=CallSession.FINAL_STATUSES)
                .exclude(call_type=CallSession.CallType.INBOUND)
                .select_related("customer_profile")
                .order_by("-started_at")
                .first()
            )
            if call is None:
                raise CommandError("No outbound call is ringing. Start one from the dashboard or the API first.")
            self.stdout.write(f"Answering the call to {call.customer_profile.phone_number}...")
            screen = phone.answer(call)
        else:
            try:
                number = normalize_e164(from_number)
            except ValidationFailed as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(f"Calling {phone.agent.name} from {number}... (empty line = silence, /hangup to end)")
            screen = phone.dial_in(from_number=number)
        self._talk(phone, screen)

    def _show(self, screen: Screen) -> None:
        for line in screen.said:
            self.stdout.write(self.style.SUCCESS(f"Agent: {line}"))
        if screen.transferred_to:
            self.stdout.write(f"(transferring you to {screen.transferred_to})")

    def _talk(self, phone: SimulatedPhone, screen: Screen) -> None:
        try:
            self._show(screen)
            while screen.listening:
                try:
                    text = input("You: ").strip()
                except EOFError:
                    text = "/hangup"
                if text == "/hangup":
                    break
                screen = phone.say(screen.call_sid, text)
                self._show(screen)
        except KeyboardInterrupt:
            self.stdout.write("")  # Ctrl-C: the person hung up
        finally:
            # However the conversation stops, the call is closed (a hang-up of an ended call changes nothing).
            phone.hang_up(screen.call_sid)
        self.stdout.write("Call ended.")
