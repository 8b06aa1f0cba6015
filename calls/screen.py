"""What the person on a simulated phone hears after a step: our TwiML (or relay socket) read back.

Shared by the built-in phone (``calls.simulated_phone``) and our side of ConversationRelay
(``calls.relay.phone``), which builds a screen from the tokens a relay agent streamed; kept
apart from both so the phone may drive the socket without the socket importing the phone.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Screen:
    """What the person on the simulated phone hears after a step."""

    call_sid: str
    said: list[str] = field(default_factory=list)
    listening: bool = False
    ended: bool = False
    transferred_to: str = ""
    status: int = 200
    tokens: list[str] = field(default_factory=list)  # a relay agent's reply, piece by piece as it streamed


def read_twiml(call_sid: str, status: int, body: bytes) -> Screen:
    said, listening, ended, transfer = [], False, False, ""
    try:
        root = ET.fromstring(body)  # noqa: S314 - our own server's TwiML
    except ET.ParseError:
        return Screen(call_sid=call_sid, ended=True, status=status)
    for element in root.iter():
        if element.tag == "Say" and element.text:
            said.append(element.text)
        elif element.tag == "Gather":
            listening = True
        elif element.tag == "ConversationRelay":
            # A relay-mode agent: Twilio speaks the greeting (an attribute), then each turn goes
            # over the call's socket (the simulated phone's ``say``, through calls.relay.phone).
            said.append(element.get("welcomeGreeting") or "")
            listening = True
        elif element.tag == "Hangup":
            ended = True
        elif element.tag == "Dial":
            transfer = (element.text or "").strip() or "".join(n.text or "" for n in element)
            ended = True
    return Screen(call_sid, said, listening and not ended, ended, transfer, status)
