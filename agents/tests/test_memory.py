"""The learned memory's fold functions: pure, order-independent, reversible, bounded."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from agents.memory import (
    MAX_KEYS,
    TREND_DAYS,
    VERSION,
    OutcomeFacts,
    best_pickup_hours,
    coerce_memory,
    conversion_trend,
    empty_memory,
    fold_outcome,
    fold_outcomes,
    objection_key,
    refold_outcome,
    retract_outcome,
    top_objections,
)

DAY = date(2025, 10, 1)


def facts(outcome="interested", *, picked_up=True, day=DAY, hour=14, objections=(), answered=()):
    return OutcomeFacts(
        outcome=outcome,
        picked_up=picked_up,
        day=day,
        hour=hour,
        objections=frozenset(objections),
        answered_objections=frozenset(answered),
    )


def test_empty_memory_has_the_documented_shape():
    assert empty_memory() == {
        "version": VERSION,
        "processed_calls": 0,
        "outcomes": {},
        "objections": {},
        "objection_answers": {},
        "pickup_hours": {},
        "conversion_trend": {},
    }


def test_fold_counts_every_part_of_one_outcome():
    memory = fold_outcome({}, facts("converted", objections={"price_too_high"}, answered={"price_too_high"}))

    assert memory["processed_calls"] == 1
    assert memory["outcomes"] == {"converted": 1}
    # A conversion is interest too, so both columns move.
    assert memory["objections"] == {"price_too_high": {"count": 1, "interested": 1, "converted": 1}}
    assert memory["objection_answers"] == {"price_too_high": {"uses": 1, "interested": 1, "converted": 1}}
    assert memory["pickup_hours"] == {"14": {"attempts": 1, "answered": 1}}
    assert memory["conversion_trend"] == {"2025-10-01": {"calls": 1, "conversions": 1}}


def test_fold_does_not_modify_its_input():
    before = fold_outcome({}, facts())
    snapshot = copy.deepcopy(before)

    fold_outcome(before, facts("converted", objections={"x"}))

    assert before == snapshot


def test_unanswered_call_is_an_attempt_without_pickup():
    memory = fold_outcome({}, facts("no_answer", picked_up=False, hour=9))

    assert memory["pickup_hours"] == {"9": {"attempts": 1, "answered": 0}}
    assert memory["conversion_trend"]["2025-10-01"] == {"calls": 1, "conversions": 0}


def test_not_interested_objection_counts_without_interest():
    memory = fold_outcome({}, facts("not_interested", objections={"price_too_high"}))

    assert memory["objections"]["price_too_high"] == {"count": 1, "interested": 0, "converted": 0}
    assert memory["objection_answers"] == {}


def test_folding_is_order_independent():
    batch = [
        facts("interested", objections={"a"}, hour=10),
        facts("converted", objections={"a", "b"}, answered={"a"}, hour=11, day=DAY + timedelta(days=1)),
        facts("no_answer", picked_up=False, hour=10),
    ]

    assert fold_outcomes({}, batch) == fold_outcomes({}, list(reversed(batch)))


def test_retract_undoes_fold_exactly():
    base = fold_outcomes({}, [facts("interested", objections={"a"}), facts("not_interested", hour=9)])
    one = facts("converted", objections={"a", "b"}, answered={"b"}, hour=20)

    assert retract_outcome(fold_outcome(base, one), one) == base


def test_refold_with_same_facts_is_a_no_op():
    memory = fold_outcome({}, facts("interested", objections={"a"}))

    assert (
        refold_outcome(memory, facts("interested", objections={"a"}), facts("interested", objections={"a"})) == memory
    )


def test_refold_moves_a_corrected_outcome():
    memory = fold_outcome({}, facts("interested", objections={"a"}, answered={"a"}))

    memory = refold_outcome(
        memory,
        facts("interested", objections={"a"}, answered={"a"}),
        facts("converted", objections={"a"}, answered={"a"}),
    )

    assert memory["processed_calls"] == 1
    assert memory["outcomes"] == {"converted": 1}
    assert memory["objection_answers"]["a"] == {"uses": 1, "interested": 1, "converted": 1}
    assert memory["conversion_trend"]["2025-10-01"] == {"calls": 1, "conversions": 1}


def test_retract_never_goes_below_zero_and_drops_empty_rows():
    memory = retract_outcome({}, facts("converted", objections={"a"}, answered={"a"}))

    assert memory == empty_memory()


def test_coerce_repairs_hand_edited_json_and_keeps_unknown_keys():
    raw = {
        "processed_calls": "7",
        "outcomes": {"interested": 2, "answered": -4, "converted": "x"},
        "objections": {"a": {"count": 3, "interested": None}, "b": "junk", "c": {"count": 0}},
        "pickup_hours": {"14": {"attempts": 2, "answered": 1}, "25": {"attempts": 1}, "07": {"attempts": 1}},
        "conversion_trend": {"2025-10-01": {"calls": 1}, "yesterday": {"calls": 3}},
        "insights": ["Customers pick up after 17:00"],
    }

    memory = coerce_memory(raw)

    assert memory["processed_calls"] == 7
    assert memory["outcomes"] == {"interested": 2}
    assert memory["objections"] == {"a": {"count": 3, "interested": 0, "converted": 0}}
    assert memory["pickup_hours"] == {"14": {"attempts": 2, "answered": 1}}
    assert memory["conversion_trend"] == {"2025-10-01": {"calls": 1, "conversions": 0}}
    assert memory["insights"] == ["Customers pick up after 17:00"]
    assert coerce_memory(None) == empty_memory()
    assert coerce_memory(["not", "a", "dict"]) == empty_memory()


def test_objection_keys_are_normalised():
    assert objection_key("Price too high!") == "price_too_high"
    assert objection_key("  already-have provider ") == "already_have_provider"
    memory = fold_outcome({}, facts(objections={"Price Too High"}))
    assert list(memory["objections"]) == ["price_too_high"]


def test_trend_keeps_a_bounded_number_of_days():
    old = facts(day=DAY)
    new = facts(day=DAY + timedelta(days=TREND_DAYS))

    memory = fold_outcomes({}, [old, new])

    assert list(memory["conversion_trend"]) == [(DAY + timedelta(days=TREND_DAYS)).isoformat()]


def test_objection_tables_keep_the_most_frequent_keys():
    batch = [facts(objections={f"k{i}"}) for i in range(MAX_KEYS + 5)] + [facts(objections={"k0"})]

    memory = fold_outcomes({}, batch)

    assert len(memory["objections"]) == MAX_KEYS
    assert memory["objections"]["k0"]["count"] == 2


def test_top_objections_rank_by_frequency_with_answer_rates():
    memory = fold_outcomes(
        {},
        [
            facts("converted", objections={"price"}, answered={"price"}),
            facts("not_interested", objections={"price"}, answered={"price"}),
            facts("interested", objections={"price"}),
            facts("interested", objections={"think"}, answered={"think"}),
        ],
    )

    rows = top_objections(memory)

    assert [r["key"] for r in rows] == ["price", "think"]
    assert rows[0] == {
        "key": "price",
        "label": "Price",
        "count": 3,
        "interest_rate": 66.7,
        "conversion_rate": 33.3,
        "answer_uses": 2,
        "answer_interest_rate": 50.0,
        "answer_conversion_rate": 50.0,
    }
    assert top_objections(memory, limit=1) == rows[:1]


def test_best_pickup_hours_ignore_hours_with_too_few_calls():
    batch = [facts(hour=17) for _ in range(3)]
    batch += [facts("no_answer", picked_up=False, hour=9) for _ in range(2)] + [facts(hour=9) for _ in range(2)]
    batch += [facts(hour=7)]  # one lucky call is not a pattern

    rows = best_pickup_hours(fold_outcomes({}, batch))

    assert [(r["hour"], r["pickup_rate"]) for r in rows] == [(17, 100.0), (9, 50.0)]


def test_conversion_trend_fills_missing_days_with_zeros():
    memory = fold_outcomes({}, [facts("converted", day=DAY), facts("interested", day=DAY - timedelta(days=2))])

    rows = conversion_trend(memory, today=DAY, days=3)

    assert rows == [
        {"date": "2025-09-29", "calls": 1, "conversions": 0},
        {"date": "2025-09-30", "calls": 0, "conversions": 0},
        {"date": "2025-10-01", "calls": 1, "conversions": 1},
    ]
