"""The training level rule of agents.knowledge: it measures material, not calls to the endpoint."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agents.knowledge import compile_knowledge, level_breakdown, training_level

BUSINESS = {"company_name": "Acme", "product_description": "Solar panels", "value_proposition": "Save money"}


def session(*, data=None, product=None, instructions=""):
    return SimpleNamespace(training_data=data or {}, product_info=product or {}, client_instructions=instructions)


FULL = [
    session(data={"script": " ".join(["word"] * 60)}),
    session(product={"pricing": "$99", "features": ["a", "b", "c"], "benefits": ["x", "y", "z"]}),
    session(data={"objection_responses": {f"o{i}": f"answer {i}" for i in range(5)}}),
    session(data={"sales_techniques": ["rapport", "needs", "present", "close"]}),
    session(data={"faq": {f"q{i}": f"a{i}" for i in range(5)}}),
]


def test_full_material_is_worth_100_and_the_breakdown_adds_up():
    knowledge = compile_knowledge(FULL, BUSINESS)

    breakdown = level_breakdown(knowledge)
    assert training_level(knowledge) == 100
    assert {name: part["points"] for name, part in breakdown.items()} == {
        "script": 25,
        "product": 20,
        "objections": 25,
        "company": 15,
        "techniques": 10,
        "faq": 5,
    }
    assert sum(part["max"] for part in breakdown.values()) == 100


def test_nothing_is_worth_0():
    knowledge = compile_knowledge([], {})

    assert training_level(knowledge) == 0
    assert all(part["points"] == 0 for part in level_breakdown(knowledge).values())


def test_the_same_material_twice_counts_once():
    once = compile_knowledge(FULL[1:3], {})
    twice = compile_knowledge(FULL[1:3] * 2, {})

    assert training_level(once) == training_level(twice) == 20 + 25


def test_a_short_script_counts_pro_rata_and_the_latest_script_wins():
    knowledge = compile_knowledge(
        [session(data={"script": "a long " * 30}), session(data={"script": "six words in this short script"})], {}
    )

    assert knowledge["script"] == "six words in this short script"
    assert training_level(knowledge) == round(25 * 6 / 60)


def test_more_than_full_marks_of_one_kind_does_not_count_more():
    objections = {f"o{i}": "answer" for i in range(12)}
    knowledge = compile_knowledge([session(data={"objection_responses": objections})], {})

    assert training_level(knowledge) == 25


@pytest.mark.parametrize("blank", [{"price": ""}, {"": "answer"}, {"  ": "  "}])
def test_blank_answers_teach_nothing(blank):
    knowledge = compile_knowledge([session(data={"objection_responses": blank})], {})

    assert training_level(knowledge) == 0


def test_company_facts_come_from_business_info_and_trainings_override_them():
    knowledge = compile_knowledge([session(data={"company_info": {"company_name": "Acme Ltd"}})], BUSINESS)

    assert knowledge["company_info"]["company_name"] == "Acme Ltd"
    assert knowledge["product_info"]["description"] == "Solar panels"
    assert level_breakdown(knowledge)["company"]["points"] == 15


def test_client_instructions_are_kept_in_order():
    knowledge = compile_knowledge([session(instructions="Be brief."), session(instructions="Never swear.")], {})

    assert knowledge["client_instructions"] == ["Be brief.", "Never swear."]
