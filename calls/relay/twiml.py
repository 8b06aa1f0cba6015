"""The TwiML a relay-mode call begins and ends with.

Begins: ``<Connect action><ConversationRelay url welcomeGreeting ...>``, answered by the
incoming-call and answered webhooks (through ``engine.render_turn``) with the stored greeting.
Ends: the ``<Connect action>`` URL, which Twilio requests after our ``end`` message (or when
the session failed). What happens next is read from the stored transcript, not from the
``HandoffData`` Twilio echoes back: the database is what every process agrees on.
"""

from __future__ import annotations

from agents.models import AIAgent
from calls.relay.handshake import relay_url
from calls.selectors import LiveCall
from calls.telephony import webhook_url
from integrations.twilio import twiml

LOST = "Sorry, we seem to have lost the connection. Please call us again. Goodbye."


def connect_relay(*, agent: AIAgent, greeting: str) -> str:
    return twiml.connect_conversation_relay(
        relay_url=relay_url(agent),
        action_url=webhook_url(agent, "relay_action"),
        greeting=greeting,
        voice=twiml.voice_for(agent.voice_model, agent.language),
        language=agent.language,
        parameters={"agent": str(agent.public_id)},
    )


def after_relay(*, agent: AIAgent, live: LiveCall | None) -> str:
    """``<Dial>`` the client's transfer number after a transfer, else end the call politely."""
    if live is None:
        return twiml.polite_error(LOST)
    last = next((turn for turn in reversed(live.turns) if turn.speaker == "agent"), None)
    records = (last.actions or []) if last is not None else []
    transfer = next((r for r in records if r.get("type") == "transfer_to_human" and r.get("to")), None)
    if transfer is not None:
        return twiml.dial(transfer["to"], caller_id=agent.phone_number or None)
    if any(r.get("type") in ("end_call", "mark_do_not_call") for r in records):
        return twiml.hangup()  # the goodbye was spoken on the socket
    voice = twiml.voice_for(agent.voice_model, agent.language)
    return twiml.say_and_hangup(LOST, voice=voice, language=agent.language)
