"""The scripted provider answers from the client's training alone, the same way every time.

Callers never use the client's objection keys, so the objection tests speak in paraphrases
that share no word with the key; unrelated small talk must not trigger a canned rebuttal.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conversation import intents
from conversation.scripted import ScriptedProvider, split_sentences
from integrations.llm.base import (
    ConversationContext,
    ConversationProvider,
    CustomerSnapshot,
    EndCall,
    MarkDoNotCall,
    RecordObjection,
    Reply,
    ScheduleCallback,
    SetInterestLevel,
    TransferToHuman,
    Turn,
)

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2025, 3, 7, 11, 0, tzinfo=NEW_YORK)  # a Friday morning

SCRIPT = (
    "Hi, this is [NAME] from [company]. We help homeowners switch to solar with no upfront cost. "
    "Do you have two minutes?\n\nLater in the call: ask about their roof."
)
OBJECTIONS = {
    "price_too_high": "I hear you. With $0 down, most homeowners pay less each month than their old bill.",
    "not_interested": "I understand. May I ask what your main concern is?",
    "need_to_think": "Of course. Can I send you a quick savings estimate to look at?",
    "already_have_provider": "Many of our customers switched from another provider. Let me compare.",
    "send_info": "Happy to. What's the best email address for you?",
}
FAQ = {
    "How long does installation take?": "Installation takes one day after the permit is approved.",
    "Do you offer a warranty?": "Yes, 25 years on panels and 10 years on the battery.",
    "Is my roof suitable?": "We check by satellite first, free of charge.",
}
PRODUCT = {
    "description": "Rooftop solar panels with battery storage for homes",
    "pricing": "$0 down, from $89/month",
    "features": ["Tier-1 panels", "10 kWh home battery", "Live energy app"],
    "benefits": ["Lower bills", "Backup power in outages", "25-year warranty"],
}


def make_context(utterance: str | None = "", **changes: object) -> ConversationContext:
    base = ConversationContext(
        agent_name="Sarah",
        company_name="Sunrise Solar",
        now_local=NOW,
        script=SCRIPT,
        product_info=PRODUCT,
        objection_responses=OBJECTIONS,
        faq=FAQ,
        sales_techniques=("rapport_building", "needs_assessment", "solution_presentation", "trial_close"),
        business_info={
            "company_name": "Sunrise Solar",
            "value_proposition": "Cut your electricity bill by up to 70% with no upfront cost",
        },
        customer=CustomerSnapshot(name="Jane Doe", phone_number="+12125550100"),
        call_type="outbound",
        transcript=(Turn("agent", "Hi, this is Sarah from Sunrise Solar. Do you have two minutes?"),),
        caller_utterance=utterance,
    )
    return dataclasses.replace(base, **changes)


def answer(utterance: str | None, **changes: object) -> Reply:
    return ScriptedProvider().reply(make_context(utterance, **changes))


def actions_of(reply: Reply, kind: type) -> list:
    return [action for action in reply.actions if isinstance(action, kind)]


def converse(*utterances: str, **changes: object) -> list[Reply]:
    """Play a call turn by turn, feeding each reply back into the transcript as the engine does."""
    provider = ScriptedProvider()
    transcript: tuple[Turn, ...] = ()
    opening = provider.reply(make_context(None, transcript=transcript, **changes))
    transcript = (Turn("agent", opening.text),)
    replies = []
    for utterance in utterances:
        reply = provider.reply(make_context(utterance, transcript=transcript, **changes))
        replies.append(reply)
        transcript = (*transcript, Turn("caller", utterance), Turn("agent", reply.text))
    return replies


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


# --- the contract -----------------------------------------------------------------------------


def test_is_a_conversation_provider_named_scripted() -> None:
    provider = ScriptedProvider()

    assert isinstance(provider, ConversationProvider)
    assert provider.name == "scripted"
    assert answer("hello").provider == "scripted"


def test_stream_yields_the_reply_sentence_by_sentence_then_the_reply() -> None:
    context = make_context("what does it do?")
    provider = ScriptedProvider()

    *pieces, last = provider.stream_reply(context)

    assert len(pieces) > 1 and all(isinstance(piece, str) for piece in pieces)
    assert last == provider.reply(context)
    assert "".join(pieces) == last.text
    assert all(piece.rstrip()[-1] in ".!?" for piece in pieces)


def test_split_sentences_keeps_prices_whole() -> None:
    assert split_sentences("It is $89.50 a month. Deal?") == ["It is $89.50 a month.", "Deal?"]


def test_same_context_same_reply() -> None:
    context = make_context("hmm, I don't know")

    assert ScriptedProvider().reply(context) == ScriptedProvider().reply(context)


def test_same_reply_in_another_process_with_another_hash_seed() -> None:
    """String hashing changes per process; the wording must not depend on it."""
    program = (
        "from conversation.tests.test_scripted import answer;"
        "print(answer('well I am not sure, we have a lot going on').text)"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_a_transcript_that_already_holds_the_current_utterance_is_read_the_same() -> None:
    utterance = "it's out of our budget"
    without = make_context(utterance)
    with_it = make_context(utterance, transcript=(*without.transcript, Turn("caller", utterance)))

    assert ScriptedProvider().reply(with_it) == ScriptedProvider().reply(without)


# --- opening ------------------------------------------------------------------------------------


def test_opening_uses_the_script_with_placeholders_filled() -> None:
    reply = answer(None)

    assert reply.text.startswith("Hi, this is Sarah from Sunrise Solar. We help homeowners")
    assert "[" not in reply.text
    assert "Later in the call" not in reply.text  # only the opening paragraph is spoken
    assert reply.actions == ()


def test_opening_does_not_add_the_disclosure_the_engine_adds() -> None:
    for changes in ({}, {"script": ""}, {"script": "", "call_type": "inbound"}):
        text = answer(None, **changes).text.lower()
        assert "record" not in text
        assert " ai " not in f" {text} "


def test_opening_without_a_script_inbound_and_outbound() -> None:
    inbound = answer(None, script="", call_type="inbound").text
    outbound = answer(None, script="", call_type="outbound").text

    assert "Thank you for calling Sunrise Solar, this is Sarah" in inbound
    assert outbound.startswith("Hi Jane, this is Sarah from Sunrise Solar.")
    assert "rooftop solar panels" in outbound
    assert inbound != outbound


def test_returning_customer_is_greeted_by_name() -> None:
    returning = CustomerSnapshot(name="Jane Doe", previous_calls=2)

    outbound = answer(None, customer=returning).text
    inbound = answer(None, customer=returning, call_type="inbound").text

    assert outbound.startswith("Hi Jane, it's Sarah from Sunrise Solar again.")
    assert "Jane" in inbound and "again" in inbound


def test_returning_customer_without_a_name_gets_the_script() -> None:
    reply = answer(None, customer=CustomerSnapshot(previous_calls=3))

    assert reply.text.startswith("Hi, this is Sarah from Sunrise Solar.")


def test_professional_agent_greets_by_the_clock() -> None:
    reply = answer(None, script="", call_type="inbound", personality_type="professional")

    assert reply.text.startswith("Good morning.")


# --- objections ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utterance", "key"),
    [
        ("That's way too expensive for us.", "price_too_high"),
        ("It costs too much.", "price_too_high"),
        ("Honestly we can't afford it.", "price_too_high"),
        ("That's out of our budget.", "price_too_high"),
        ("Our monthly bill would go up, no way.", "price_too_high"),
        ("We already use another company.", "already_have_provider"),
        ("We're happy with who we have now.", "already_have_provider"),
        ("Let me think about it.", "need_to_think"),
        ("I'd like to sleep on it.", "need_to_think"),
        ("I'm not sure yet, I'll consider it.", "need_to_think"),
        ("Can you just email me something?", "send_info"),
        ("Put it in writing and mail me a brochure.", "send_info"),
    ],
)
def test_paraphrased_objection_gets_the_trained_answer(utterance: str, key: str) -> None:
    reply = answer(utterance)

    assert reply.answered_objection == key
    assert reply.text.startswith(OBJECTIONS[key].split(".")[0])
    assert actions_of(reply, RecordObjection) == [RecordObjection(key=key, text=utterance)]
    assert not actions_of(reply, SetInterestLevel)  # an objection leaves interest as it is
    assert not actions_of(reply, EndCall)


@pytest.mark.parametrize(
    "utterance",
    ["That's way too expensive for us.", "We can't afford it.", "Out of our budget, sorry."],
)
def test_objection_matches_a_key_it_shares_no_word_with(utterance: str) -> None:
    objections = {"cost_concern_a": "Most clients see it pay for itself within a year."}
    assert not words(utterance) & words("cost concern a")

    reply = answer(utterance, objection_responses=objections)

    assert reply.answered_objection == "cost_concern_a"


@pytest.mark.parametrize(
    "utterance",
    [
        "My dog likes to play in the park on Sundays.",
        "The weather has been lovely this week.",
        "I was just making lunch for the kids.",
        "Yeah, I already told you my name.",
        "We moved here from Ohio two years ago.",
    ],
)
def test_small_talk_does_not_match_an_objection(utterance: str) -> None:
    reply = answer(utterance)

    assert reply.answered_objection == ""
    assert not actions_of(reply, RecordObjection)
    assert intents.match_objection(utterance, OBJECTIONS) is None


def test_trained_answer_text_words_can_carry_a_match() -> None:
    objections = {"roof_age": "Older roofs are fine: we inspect the shingles and replace them if needed."}

    reply = answer("My shingles are old and the roof might need replacing soon.", objection_responses=objections)

    assert reply.answered_objection == "roof_age"


def test_repeated_objection_is_not_answered_with_the_same_words() -> None:
    first, second = converse("It's too expensive.", "It's still too expensive.")

    assert first.answered_objection == "price_too_high"
    assert second.answered_objection == ""
    assert OBJECTIONS["price_too_high"] not in second.text
    assert actions_of(second, RecordObjection) == [RecordObjection("price_too_high", "It's still too expensive.")]


def test_untrained_objection_is_recorded_under_a_slug() -> None:
    reply = answer("We already work with another installer.", objection_responses={})

    assert actions_of(reply, RecordObjection)[0].key == "already_have_provider"
    assert reply.answered_objection == ""
    assert reply.text.endswith("?")


# --- product questions and FAQ ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utterance", "expected"),
    [
        ("How much does it cost?", "$0 down, from $89/month"),
        ("What's the price?", "$0 down, from $89/month"),
        ("What features do you have?", "tier-1 panels, 10 kWh home battery, and live energy app"),
        ("What are the benefits?", "lower bills, backup power in outages, and 25-year warranty"),
        ("What does it do?", "We offer rooftop solar panels with battery storage for homes."),
    ],
)
def test_product_questions_are_answered_from_product_info(utterance: str, expected: str) -> None:
    reply = answer(utterance)

    assert expected in reply.text
    assert not actions_of(reply, RecordObjection)


def test_pricing_given_per_plan_is_read_out() -> None:
    product = {**PRODUCT, "pricing": {"Starter": "$49 a month", "Pro": "$99 a month"}}

    reply = answer("How much is it?", product_info=product)

    assert "Starter is $49 a month and Pro is $99 a month" in reply.text


@pytest.mark.parametrize(
    ("utterance", "question"),
    [
        ("How long will the install take?", "How long does installation take?"),
        ("Is there some kind of guarantee?", "Do you offer a warranty?"),
        ("Would my roof even qualify?", "Is my roof suitable?"),
    ],
)
def test_faq_is_matched_by_meaning(utterance: str, question: str) -> None:
    assert answer(utterance).text.startswith(FAQ[question])


def test_unknown_question_is_not_made_up() -> None:
    reply = answer("What's your company's tax id?")

    assert "someone from Sunrise Solar gets back to you" in reply.text
    assert not reply.actions


# --- callbacks ----------------------------------------------------------------------------------


def test_callback_tomorrow_afternoon() -> None:
    reply = answer("I can't talk now, call me tomorrow afternoon.")

    assert actions_of(reply, ScheduleCallback)[0].when == datetime(2025, 3, 8, 14, 0, tzinfo=NEW_YORK)
    assert actions_of(reply, EndCall) == [EndCall("callback_requested")]
    assert "I'll call you back tomorrow at 2 PM." in reply.text


def test_callback_with_a_weekday_names_the_date() -> None:
    reply = answer("Could you call me back next Tuesday at 3?")

    assert actions_of(reply, ScheduleCallback)[0].when == datetime(2025, 3, 11, 15, 0, tzinfo=NEW_YORK)
    assert "on Tuesday, March 11 at 3 PM" in reply.text


@pytest.mark.parametrize("utterance", ["I'm busy right now.", "Call me back later.", "I'm driving, can't talk."])
def test_callback_without_a_time_uses_the_default(utterance: str) -> None:
    reply = answer(utterance)

    callback = actions_of(reply, ScheduleCallback)
    assert callback and callback[0].when == datetime(2025, 3, 7, 13, 0, tzinfo=NEW_YORK)
    assert "today at 1 PM" in reply.text
    assert actions_of(reply, EndCall) == [EndCall("callback_requested")]
    assert not actions_of(reply, SetInterestLevel)


def test_callback_late_in_the_evening_defaults_to_next_morning() -> None:
    saturday_night = datetime(2025, 11, 1, 21, 40, tzinfo=NEW_YORK)

    reply = answer("call me back later", now_local=saturday_night)

    assert actions_of(reply, ScheduleCallback)[0].when == datetime(2025, 11, 2, 10, 0, tzinfo=NEW_YORK)
    assert "tomorrow at 10 AM" in reply.text


def test_trained_no_time_answer_comes_first_then_the_named_time_is_booked() -> None:
    objections = {**OBJECTIONS, "no_time": "No problem at all. When would be a better time for a quick call?"}

    first, second = converse("I'm busy right now.", "Tomorrow at 10 works.", objection_responses=objections)

    assert first.answered_objection == "no_time"
    assert not actions_of(first, ScheduleCallback)
    assert actions_of(second, ScheduleCallback)[0].when == datetime(2025, 3, 8, 10, 0, tzinfo=NEW_YORK)
    assert actions_of(second, EndCall) == [EndCall("callback_requested")]


def test_callback_with_interest_raises_the_level() -> None:
    reply = answer("Sounds interesting, call me back tomorrow morning.")

    assert actions_of(reply, SetInterestLevel) == [SetInterestLevel("warm")]
    assert actions_of(reply, ScheduleCallback)[0].when == datetime(2025, 3, 8, 10, 0, tzinfo=NEW_YORK)


# --- opt-out ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "utterance",
    [
        "Stop calling me.",
        "Take me off your list.",
        "Don't call me again!",
        "Please remove my number.",
        "Unsubscribe.",
        "Put me on the do not call list.",
        "DO NOT CALL",
    ],
)
def test_opt_out_marks_do_not_call_and_ends(utterance: str) -> None:
    reply = answer(utterance)

    assert actions_of(reply, MarkDoNotCall)
    assert actions_of(reply, EndCall) == [EndCall("do_not_call")]
    assert len(reply.actions) == 2
    assert "won't call you again" in reply.text


@pytest.mark.parametrize(
    "utterance",
    [
        "Sounds good, but stop calling me.",
        "Not interested, take me off your list.",
        "Call me tomorrow... actually no, don't call me ever again.",
        "It's too expensive, remove my number.",
        "Let me talk to a manager and remove my number.",
    ],
)
def test_opt_out_wins_over_everything_else(utterance: str) -> None:
    reply = answer(utterance)

    assert [type(action) for action in reply.actions] == [MarkDoNotCall, EndCall]
    assert reply.answered_objection == ""


def test_dont_call_me_now_is_a_callback_not_an_opt_out() -> None:
    reply = answer("Don't call me now, call me on Monday at 9 am.")

    assert not actions_of(reply, MarkDoNotCall)
    assert actions_of(reply, ScheduleCallback)[0].when == datetime(2025, 3, 10, 9, 0, tzinfo=NEW_YORK)


# --- interest, conversion, refusal ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utterance", "level"),
    [
        ("Sounds good.", "warm"),
        ("I'm interested.", "warm"),
        ("Tell me more.", "warm"),
        ("How do I buy it?", "hot"),
        ("I'd like to get started.", "hot"),
    ],
)
def test_interest_raises_the_level(utterance: str, level: str) -> None:
    reply = answer(utterance)

    assert actions_of(reply, SetInterestLevel) == [SetInterestLevel(level)]
    assert not actions_of(reply, EndCall)


@pytest.mark.parametrize("utterance", ["Sign me up!", "I'll take it.", "Let's do it."])
def test_conversion_closes_the_call(utterance: str) -> None:
    reply = answer(utterance)

    assert actions_of(reply, SetInterestLevel) == [SetInterestLevel("converted")]
    assert actions_of(reply, EndCall) == [EndCall("converted")]
    assert "Welcome aboard, Jane!" in reply.text


def test_yes_to_the_signup_question_converts() -> None:
    hot, converted = converse("How do I buy this?", "Yes, please.")

    assert actions_of(hot, SetInterestLevel) == [SetInterestLevel("hot")]
    assert actions_of(converted, EndCall) == [EndCall("converted")]


def test_not_interested_in_warm_words_is_not_interest() -> None:
    reply = answer("That's not interesting to me at all.")

    assert not actions_of(reply, SetInterestLevel)


@pytest.mark.parametrize("utterance", ["Okay.", "Hmm, we have two kids.", "What's the weather like there?"])
def test_neutral_utterance_never_touches_interest(utterance: str) -> None:
    hot_customer = CustomerSnapshot(name="Jane Doe", interest_level="hot")

    reply = answer(utterance, customer=hot_customer)

    assert not actions_of(reply, SetInterestLevel)


def test_interest_below_the_current_level_is_not_sent() -> None:
    hot_customer = CustomerSnapshot(name="Jane Doe", interest_level="hot")

    assert not actions_of(answer("Sounds good.", customer=hot_customer), SetInterestLevel)


def test_refusal_gets_the_trained_answer_once_then_a_polite_close() -> None:
    first, second = converse("No thanks.", "No, I'm really not interested.")

    assert first.answered_objection == "not_interested"
    assert not actions_of(first, EndCall)
    assert actions_of(second, SetInterestLevel) == [SetInterestLevel("cold")]
    assert actions_of(second, EndCall) == [EndCall("not_interested")]


def test_refusal_without_a_trained_answer_closes_at_once() -> None:
    objections = {key: value for key, value in OBJECTIONS.items() if key != "not_interested"}

    reply = answer("Not interested, thanks.", objection_responses=objections)

    assert actions_of(reply, SetInterestLevel) == [SetInterestLevel("cold")]
    assert actions_of(reply, EndCall) == [EndCall("not_interested")]
    assert "appreciate your time" in reply.text


def test_refusal_naming_a_reason_gets_the_answer_to_that_reason() -> None:
    reply = answer("Not interested, we already have a provider.")

    assert reply.answered_objection == "already_have_provider"


# --- transfer, identity, goodbye, silence ---------------------------------------------------------


@pytest.mark.parametrize(
    "utterance",
    [
        "Can I talk to a real person?",
        "I want to speak to your manager.",
        "Put me through to a representative, please.",
        "Is there a human I can talk to?",
    ],
)
def test_transfer_to_a_human(utterance: str) -> None:
    reply = answer(utterance)

    assert actions_of(reply, TransferToHuman)
    assert not actions_of(reply, EndCall)


def test_talking_it_over_with_my_manager_is_not_a_transfer() -> None:
    reply = answer("I need to talk to my manager first.")

    assert not actions_of(reply, TransferToHuman)


@pytest.mark.parametrize("utterance", ["Are you a robot?", "Am I talking to a real person?", "Is this a recording?"])
def test_asked_if_it_is_an_ai_it_says_so(utterance: str) -> None:
    reply = answer(utterance)

    assert "an AI assistant" in reply.text
    assert not reply.actions


def test_who_is_this() -> None:
    assert answer("Sorry, who is this?").text.startswith("This is Sarah from Sunrise Solar.")


@pytest.mark.parametrize("utterance", ["Bye.", "That's all, thanks.", "Thank you, goodbye."])
def test_goodbye_ends_as_answered(utterance: str) -> None:
    reply = answer(utterance)

    assert actions_of(reply, EndCall) == [EndCall("answered")]


def test_goodbye_after_interest_ends_as_interested() -> None:
    _, goodbye = converse("Sounds great, what does it cost?", "Okay, thank you, goodbye.")

    assert actions_of(goodbye, EndCall) == [EndCall("interested")]


def test_silence_is_prompted_twice_then_the_call_ends() -> None:
    first, second, third = converse("", "   ", "")

    assert first.text == "Are you still there?"
    assert second.text != first.text and second.text.endswith("Are you still there?")
    assert not first.actions and not second.actions
    assert actions_of(third, EndCall) == [EndCall("answered")]
    assert "lost the connection" in third.text


def test_silence_count_restarts_after_the_caller_speaks() -> None:
    *_, last = converse("", "", "Yes, sorry, go on.", "")

    assert not actions_of(last, EndCall)


# --- moving the sale on -------------------------------------------------------------------------


def test_continuation_never_repeats_itself() -> None:
    replies = converse("Okay.", "Right.", "Hmm.", "I see.", "Okay.", "Sure.", "Right.", "Mm-hmm.")

    previous: list[str] = []
    for reply in replies:
        sentences = split_sentences(reply.text)
        assert not set(sentences) & set(previous), reply.text
        assert reply.text.endswith("?")  # always hands the turn back with a question
        previous = sentences


def test_continuation_uses_the_value_proposition_and_trained_techniques() -> None:
    texts = " ".join(reply.text for reply in converse("Okay.", "Right.", "Hmm.", "I see."))

    assert "cut your electricity bill by up to 70%" in texts
    assert "What matters most to you in a solution like this?" in texts


def test_a_technique_written_as_a_question_is_asked_verbatim() -> None:
    reply = answer("Okay.", sales_techniques=("How old is your roof?",), product_info={}, business_info={})

    assert "How old is your roof?" in reply.text


def test_personality_tints_the_wording() -> None:
    friendly = answer("Sounds good.", personality_type="friendly").text
    professional = answer("Sounds good.", personality_type="professional").text

    assert friendly != professional
    assert friendly.startswith("Great!")
    assert professional.startswith("Excellent.")


def test_unknown_personality_sounds_friendly() -> None:
    assert answer("Sounds good.", personality_type="quirky").text == answer("Sounds good.").text


def test_reply_never_repeats_the_last_agent_line_word_for_word() -> None:
    first, second = converse("How much does it cost?", "How much does it cost?")

    assert second.text != first.text
    assert second.text.startswith("As I mentioned,")


def test_callback_reason_and_time_are_aware_in_the_callers_zone() -> None:
    reply = answer("call me in 45 minutes")

    callback = actions_of(reply, ScheduleCallback)[0]
    assert callback.when.tzinfo is NEW_YORK
    assert callback.when - NOW == timedelta(minutes=45)
    assert "call me in 45 minutes" in callback.reason


def test_no_to_do_you_have_a_minute_books_a_callback() -> None:
    reply = answer("No.", transcript=(Turn("agent", "Hi, this is Sarah from Sunrise Solar. Do you have two minutes?"),))

    assert actions_of(reply, ScheduleCallback)
    assert actions_of(reply, EndCall) == [EndCall("callback_requested")]


def test_yes_to_do_you_have_a_minute_moves_on_gladly() -> None:
    reply = answer("Yes, sure.")

    assert reply.text.startswith("Great!")
    assert not reply.actions


def test_returning_callback_call_says_why_it_calls() -> None:
    returning = CustomerSnapshot(name="Jane Doe", previous_calls=1)

    reply = answer(None, customer=returning, call_purpose="Scheduled callback: caller asked for a callback")

    assert "I'm calling you back as you asked." in reply.text


def test_free_text_purpose_is_not_read_out() -> None:
    reply = answer(None, script="", call_purpose="customer filled in the web form on 3 March")

    assert "web form" not in reply.text


def test_caller_who_will_call_back_still_gets_a_safety_callback() -> None:
    reply = answer("I'll call you back, I'm at work.")

    assert actions_of(reply, ScheduleCallback)
    assert "In case we miss each other, I'll also try you today at 1 PM." in reply.text


def test_can_you_hear_me_repeats_the_last_question() -> None:
    reply = answer("Hello? Can you hear me?")

    assert reply.text == "Yes, I can hear you. Do you have two minutes?"
    assert not reply.actions


@pytest.mark.parametrize("utterance", ["What's the deal with this?", "I'm in a meeting, hold on, I'm in the car"])
def test_phrases_that_only_look_like_a_conversion(utterance: str) -> None:
    assert not actions_of(answer(utterance), SetInterestLevel)


def test_talk_to_you_later_is_a_goodbye() -> None:
    assert actions_of(answer("Okay, talk to you later."), EndCall) == [EndCall("answered")]


@pytest.mark.parametrize("personality", ["friendly", "professional", "enthusiastic", "empathetic"])
def test_second_silence_prompt_is_worded_differently(personality: str) -> None:
    first, second = converse("", "", personality_type=personality)

    assert second.text != first.text
    assert not second.text.startswith("As I mentioned")


def test_tell_me_more_details_is_interest_not_a_brush_off() -> None:
    reply = answer("Tell me more details, please.")

    assert actions_of(reply, SetInterestLevel) == [SetInterestLevel("warm")]
    assert reply.answered_objection == ""


# --- spoken, unpunctuated callers (issue 15; the full corpus is in evals/) -------------------------


@pytest.mark.parametrize(
    "utterance",
    [
        "this number is for business only no sales calls",
        "no thanks and please dont call back",
        "i would like to be removed from your list",
        "get me off your list",
    ],
)
def test_indirect_opt_out_marks_do_not_call(utterance: str) -> None:
    reply = answer(utterance)

    assert actions_of(reply, MarkDoNotCall)
    assert actions_of(reply, EndCall) == [EndCall("do_not_call")]


@pytest.mark.parametrize(
    "utterance",
    [
        "no need to take me off anything just not today",
        "i never said stop calling",
        "dont take me off your list i am interested",
        "dont call this number call my cell tomorrow",
    ],
)
def test_negated_or_redirected_opt_out_is_not_one(utterance: str) -> None:
    assert not actions_of(answer(utterance), MarkDoNotCall)


def test_voicemail_greeting_read_as_speech_gets_a_short_message_not_a_pitch() -> None:
    reply = answer("hi youve reached john please leave a message after the tone")

    assert actions_of(reply, EndCall) == [EndCall("voicemail")]
    assert "$89" not in reply.text and "Sarah" in reply.text


def test_unclear_callback_time_is_asked_back_then_booked() -> None:
    asked, booked = converse("call me back after my appointment", "uh around three")

    assert not asked.actions and asked.text.endswith("?")
    assert actions_of(booked, ScheduleCallback)[0].when.hour == 15


def test_price_question_in_plain_words_is_answered_not_rebutted() -> None:
    reply = answer("so uh what would something like this run me a month")

    assert "$89/month" in reply.text
    assert not actions_of(reply, RecordObjection)


def test_a_price_fact_without_complaint_is_not_an_objection() -> None:
    assert not actions_of(answer("our bill is around two hundred a month"), RecordObjection)


@pytest.mark.parametrize(
    ("utterance", "level"),
    [("thats actually something we need", "warm"), ("can we set it up", "hot")],
)
def test_interest_in_plain_words_raises_the_level(utterance: str, level: str) -> None:
    assert actions_of(answer(utterance), SetInterestLevel) == [SetInterestLevel(level)]


@pytest.mark.parametrize("utterance", ["we'll skip it", "we'll give it a miss", "not really our thing"])
def test_refusal_in_plain_words_is_heard(utterance: str) -> None:
    reply = answer(utterance)

    assert actions_of(reply, RecordObjection)[0].key == "not_interested" or actions_of(reply, EndCall)


@pytest.mark.parametrize("utterance", ["connect me with your sales team", "put me through to someone"])
def test_asking_for_a_person_in_other_words_transfers(utterance: str) -> None:
    assert actions_of(answer(utterance), TransferToHuman)
