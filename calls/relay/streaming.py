"""Cut a reply streaming from the model where speech may pause.

Text is sent up to the last space or punctuation mark it holds, so a token that is half a
word ("compre") waits for the rest ("hensive") and speech never pauses inside a word; at
once when a clause or sentence ends. The reply's first piece is the exception: it goes out
as it comes, because the caller is waiting for the first word and Twilio joins the tokens
of a turn before it synthesises them. Nothing else is held longer than it takes the model
to finish the word it is writing.
"""

from __future__ import annotations

_BREAKS = ".!?,;:"
# A "word" this long without a space (a URL, a run of digits) is sent anyway.
_HOLD_MAX = 80


class SpeechChunker:
    def __init__(self) -> None:
        self._held = ""
        self._started = False

    def feed(self, piece: str) -> str:
        """What of the text so far may be spoken now ("" when the last word is unfinished)."""
        self._held += piece
        text = self._held
        if not text:
            return ""
        if not self._started or text[-1] in _BREAKS or text[-1].isspace() or len(text) >= _HOLD_MAX:
            self._held = ""
            self._started = True
            return text
        cut = max(text.rfind(" "), text.rfind("\n"))
        if cut <= 0:
            return ""
        self._held = text[cut + 1 :]
        return text[: cut + 1]

    def flush(self) -> str:
        """The rest, at the end of the reply."""
        text, self._held = self._held, ""
        return text
