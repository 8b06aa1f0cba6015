"""A phone in the terminal: call the agent (or answer its outbound call) and talk by typing.

    python manage.py phone --agent demo --from +12125550123
    python manage.py phone --agent demo --answer          # pick up the latest ringing outbound call

Every line goes through the same signed webhooks Twilio would call. A relay-mode agent is
talked to over its ConversationRelay socket on the running server (``--server``, where
``make run`` listens; by default where the simulator finds it, ``SIMULATED_PHONE_RELAY_URL``),
signed as Twilio signs it, the reply printed as it streams, one socket for the whole call;
``--no-socket`` drives its turns through the turn webhook instead (the same engine).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from websockets.exceptions import InvalidHandshake

from agents.models import AIAgent
from calls.models import CallSession
from calls.relay.phone import RelaySocket, relay_session_ended
from calls.screen import Screen
from calls.simulated_phone import SimulatedPhone, relay_server
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
        parser.add_argument(
            "--server", default="", help="Where the app serves relay sockets (default: SIMULATED_PHONE_RELAY_URL)."
        )
        parser.add_argument("--no-socket", action="store_true", help="Relay agents: use the turn webhook instead.")

    def handle(
        self, *args, agent: str, from_number: str, answer: bool, server: str, no_socket: bool = False, **options
    ):
        phone = SimulatedPhone(find_agent(agent), relay_socket=False)  # this phone holds a relay call's socket itself
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
        if phone.agent.voice_mode == AIAgent.VoiceMode.RELAY and screen.listening and not no_socket:
            self._talk_on_socket(phone, screen, server or relay_server())
        else:
            self._talk(phone, screen)

    def _show(self, screen: Screen) -> None:
        for line in screen.said:
            self.stdout.write(self.style.SUCCESS(f"Agent: {line}"))
        if screen.transferred_to:
            self.stdout.write(f"(transferring you to {screen.transferred_to})")

    def _talk_on_socket(self, phone: SimulatedPhone, screen: Screen, server: str) -> None:
        """A relay-mode agent: Twilio's side of the socket, typed; "/press 123" sends keys."""
        try:
            self._show(screen)  # the welcome greeting
            with RelaySocket(agent=phone.agent, call_sid=screen.call_sid, server=server) as socket:
                while socket.handoff is None:
                    try:
                        text = input("You: ").strip()
                    except EOFError:
                        text = "/hangup"
                    if text == "/hangup":
                        break
                    self.stdout.write(self.style.SUCCESS("Agent: "), ending="")
                    write = lambda token: self.stdout.write(self.style.SUCCESS(token), ending="")  # noqa: E731
                    if text.startswith("/press "):
                        socket.press(text.removeprefix("/press ").strip(), write)
                    else:
                        socket.say(text, write)
                    self.stdout.write("")
                if socket.handoff is not None:
                    # What Twilio does after "end": ask the <Connect action> URL what happens next.
                    self._show(relay_session_ended(phone=phone, call_sid=screen.call_sid, handoff=socket.handoff))
        except (OSError, InvalidHandshake) as exc:
            raise CommandError(
                f"Could not open the relay socket at {server} ({exc}). Start the server (make run), "
                "give --server, or use --no-socket."
            ) from None
        except KeyboardInterrupt:
            self.stdout.write("")
        finally:
            phone.hang_up(screen.call_sid)
        self.stdout.write("Call ended.")

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
