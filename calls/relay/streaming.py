"""Cut a reply streaming from the model where speech may pause.

Text-to-speech reads a half word ("compre" + "hensive") as two, so text is sent in whole
words, and at once when a clause or sentence ends. Nothing is held back longer than it takes
the model to finish the word it is writing, so the caller starts hearing the reply with the
model's first word.
"""

from __future__ import annotations

_BREAKS = ".!?,;:"
# A "word" this long without a space (a URL, a run of digits) is sent anyway.
_HOLD_MAX = 80


class SpeechChunker:
    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        """What of the text so far may be spoken now ("" when the last word is unfinished)."""
        self._held += piece
        text = self._held
        if not text:
            return ""
        if text[-1] in _BREAKS or text[-1].isspace() or len(text) >= _HOLD_MAX:
            self._held = ""
            return text
        cut = max(text.rfind(" "), text.rfind("\n"))
        if cut < 0:
            return ""
        self._held = text[cut + 1 :]
        return text[: cut + 1]

    def flush(self) -> str:
        """The rest, at the end of the reply."""
        text, self._held = self._held, ""
        return text
