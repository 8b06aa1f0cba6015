"""The agent's write rules: one blank agent per client, settings, training level and status."""

from __future__ import annotations

from datetime import time

import pytest

from agents.models import AIAgent, AIAgentTraining
from agents.services import (
    AGENT_EXISTS_MESSAGE,
    EMPTY_TRAINING_MESSAGE,
    agent_setup,
    agent_update,
    status_for_level,
    training_add,
)
from core.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db

BUSINESS = {"company_name": "Acme", "product_description": "Solar panels", "value_proposition": "Save money"}
SCRIPT_60 = " ".join(["word"] * 60)


@pytest.fixture
def blank(client_a):
    return agent_setup(client=client_a, name="Sarah", business_info=BUSINESS)


# --- set-up -------------------------------------------------------------------------------------


def test_setup_creates_a_blank_agent_even_with_business_info(blank):
    assert (blank.status, blank.training_level) == (AIAgent.Status.TRAINING, 0)
    assert blank.knowledge["company_info"] == {"company_name": "", "product_description": "", "value_proposition": ""}
    assert blank.business_info == BUSINESS
    assert not blank.can_take_calls


def test_the_business_info_counts_from_the_first_training_on(blank):
    training_add(agent=blank, training_type="script", training_content=SCRIPT_60)

    blank.refresh_from_db()
    assert blank.training_level == 25 + 15  # the script, plus the set-up's three company facts
    assert blank.knowledge["company_info"] == BUSINESS


def test_a_client_has_one_agent(blank, client_a):
    with pytest.raises(Conflict) as refused:
        agent_setup(client=client_a, name="Second")

    assert refused.value.message == AGENT_EXISTS_MESSAGE
    assert AIAgent.objects.filter(client=client_a).count() == 1


def test_setup_refuses_hours_that_end_before_they_start(client_a):
    with pytest.raises(ValidationFailed, match="working_hours_start must be before working_hours_end"):
        agent_setup(client=client_a, name="Night owl", working_hours_start=time(18), working_hours_end=time(9))


def test_setup_checks_model_rules_for_callers_that_skip_the_api(client_a):
    with pytest.raises(ValidationFailed, match="personality_type"):
        agent_setup(client=client_a, name="Sarah", personality_type="grumpy")
    assert not AIAgent.objects.exists()


def test_setup_normalises_and_guards_the_phone_number(client_a, agent_b):
    with pytest.raises(Conflict, match="That phone number is not available"):
        agent_setup(client=client_a, name="Sarah", phone_number=agent_b.phone_number)

    agent = agent_setup(client=client_a, name="Sarah", phone_number="415 555 0123")
    assert agent.phone_number == "+14155550123"


# --- update -------------------------------------------------------------------------------------


def test_update_merges_business_info_and_sales_goals(blank):
    blank.sales_goals = {"target_conversions": 50, "avg_deal_size": 1000}
    blank.save()

    agent = agent_update(
        agent=blank, business_info={"value_proposition": "Free panels"}, sales_goals={"avg_deal_size": 9}
    )

    assert agent.business_info == {**BUSINESS, "value_proposition": "Free panels"}
    assert agent.sales_goals == {"target_conversions": 50, "avg_deal_size": 9}


def test_update_refuses_fields_it_does_not_own(blank):
    with pytest.raises(ValidationFailed, match="cannot be changed: training_level"):
        agent_update(agent=blank, training_level=100)


@pytest.mark.parametrize("status", ["training", "learning", "optimizing"])
def test_update_lets_the_client_set_only_paused_or_active(blank, status):
    with pytest.raises(ValidationFailed, match="only be set to 'paused'"):
        agent_update(agent=blank, status=status)


def test_a_paused_agent_stays_paused_through_training_until_resumed(agent_a):
    agent_update(agent=agent_a, status="paused")
    training_add(agent=agent_a, training_type="script", training_content=SCRIPT_60)

    agent_a.refresh_from_db()
    assert agent_a.status == AIAgent.Status.PAUSED and not agent_a.can_take_calls
    resumed = agent_update(agent=agent_a, status="active")
    assert (resumed.training_level, resumed.status) == (40, AIAgent.Status.LEARNING)  # script + company facts


def test_update_with_an_empty_number_removes_it(agent_a):
    assert agent_update(agent=agent_a, phone_number="").phone_number is None
    agent_a.refresh_from_db()
    assert agent_a.phone_number is None


def test_update_does_not_overwrite_a_level_set_meanwhile(blank):
    stale = AIAgent.objects.get(pk=blank.pk)
    training_add(agent=blank, training_type="script", training_content=SCRIPT_60)

    agent_update(agent=stale, name="Renamed")

    blank.refresh_from_db()
    assert (blank.name, blank.training_level) == ("Renamed", 40)


# --- training -----------------------------------------------------------------------------------


def test_status_follows_the_level():
    assert status_for_level(19, "training") == "training"
    assert status_for_level(20, "training") == "learning"
    assert status_for_level(79, "learning") == "learning"
    assert status_for_level(80, "learning") == "active"
    assert status_for_level(90, "optimizing") == "optimizing"
    assert status_for_level(50, "optimizing") == "learning"
    assert status_for_level(90, "paused") == "paused"


def test_training_moves_training_to_learning_at_20_and_active_at_80(client_a):
    agent = agent_setup(client=client_a, name="Sarah")
    objections = {f"objection {i}": f"answer {i}" for i in range(5)}
    seen = []
    for kwargs in [
        {"training_type": "faq", "faq": {"q1": "a1", "q2": "a2", "q3": "a3", "q4": "a4", "q5": "a5"}},
        {"training_type": "company_info", "company_info": BUSINESS},
        {"training_type": "objection_handling", "objection_responses": objections},
        {"training_type": "script", "training_content": SCRIPT_60},
        {"training_type": "techniques", "sales_techniques": ["a", "b", "c", "d"]},
    ]:
        session = training_add(agent=agent, **kwargs)
        seen.append((session.ai_agent.training_level, session.ai_agent.status))

    assert seen == [(5, "training"), (20, "learning"), (45, "learning"), (70, "learning"), (80, "active")]


def test_repeating_material_teaches_nothing_new(agent_a):
    kwargs = {"training_type": "objection_handling", "objection_responses": {"price": "Worth it", "time": "2 min"}}
    first = training_add(agent=agent_a, **kwargs).completion_percentage
    second = training_add(agent=agent_a, **kwargs).completion_percentage
    techniques = training_add(agent=agent_a, training_type="techniques", sales_techniques=["x", "x", " x "])

    assert first == second
    assert techniques.training_data["sales_techniques"] == ["x"]


def test_training_cleans_material_and_refuses_an_empty_session(agent_a):
    with pytest.raises(ValidationFailed) as empty:
        training_add(
            agent=agent_a,
            training_type="faq",
            training_content="   ",
            faq={"  ": "orphan answer"},
            objection_responses={"price": "  "},
            product_details={"features": [], "pricing": ""},
        )

    assert empty.value.message == EMPTY_TRAINING_MESSAGE
    assert not AIAgentTraining.objects.exists()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"training_type": "poetry", "training_content": "x"}, "Unknown training_type 'poetry'"),
        ({"training_type": "faq", "faq": ["q", "a"]}, "faq must map each key to a text answer"),
        ({"training_type": "objection_handling", "objection_responses": {"a": 1}}, "objection_responses must map"),
        ({"training_type": "techniques", "sales_techniques": "close"}, "sales_techniques must be a list of texts"),
        ({"training_type": "product", "product_details": {"pricing": 99}}, "product_details.pricing must be a text"),
        ({"training_type": "product", "product_details": "cheap"}, "product_details must be an object"),
    ],
)
def test_training_refuses_material_of_the_wrong_shape(agent_a, kwargs, message):
    with pytest.raises(ValidationFailed, match=message):
        training_add(agent=agent_a, **kwargs)
    assert not AIAgentTraining.objects.exists()


def test_training_keeps_other_prose_as_notes_and_merges_sales_goals(agent_a):
    agent_a.sales_goals = {"target_conversions": 10}
    agent_a.save()

    session = training_add(
        agent=agent_a, training_type="product", training_content="Mention the rebate.", sales_goals={"avg_deal_size": 5}
    )

    assert session.training_data == {"notes": "Mention the rebate."}
    agent_a.refresh_from_db()
    assert agent_a.sales_goals == {"target_conversions": 10, "avg_deal_size": 5}
