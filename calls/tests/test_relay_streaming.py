"""The speech chunker: whole words, at once at a break, the first piece without waiting."""

from calls.relay.streaming import SpeechChunker


def test_words_are_never_split_and_breaks_go_out_at_once():
    chunker = SpeechChunker()
    sent = [chunker.feed(piece) for piece in ["Our", " compre", "hensive", " plan", " costs", " $89,", " monthly"]]
    assert sent == ["Our", "", "", " comprehensive ", "plan ", "costs $89,", ""]
    assert chunker.flush() == " monthly"


def test_a_run_without_spaces_is_not_held_for_ever():
    chunker = SpeechChunker()
    chunker.feed("Visit")
    assert chunker.feed(" " + "x" * 100) == " " + "x" * 100
