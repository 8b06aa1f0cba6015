"""The agent API: set-up, read, change, train; validation, 401 and cross-tenant."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from agents.models import AIAgent, AIAgentTraining
from agents.selectors import NO_AGENT_MESSAGE
from agents.services import AGENT_EXISTS_MESSAGE, EMPTY_TRAINING_MESSAGE
from agents.tests.factories import AIAgentFactory, AIAgentTrainingFactory

pytestmark = pytest.mark.django_db

AGENT = "/api/agents/ai/"
SETUP = "/api/agents/ai/setup/"
TRAINING = "/api/agents/ai/training/"

SEED_SETUP = {
    "agent_name": "My Sales Assistant",
    "personality_type": "friendly",
    "voice_model": "en-US-female-1",
    "working_hours_start": "09:00",
    "working_hours_end": "18:00",
    "business_info": {
        "company_name": "ABC Company",
        "product_description": "Premium services",
        "value_proposition": "Best solution",
    },
    "sales_goals": {"target_conversions": 50, "avg_deal_size": 1000},
}
SEED_TRAINING = {
    "training_type": "script",
    "training_content": "Hello, this is [NAME] from [COMPANY]...",
    "product_details": {
        "features": ["Feature 1", "Feature 2"],
        "pricing": "$99/month",
        "benefits": ["Benefit 1", "Benefit 2"],
    },
    "objection_responses": {
        "price_too_high": "Let me explain the ROI you'll get...",
        "not_interested": "I understand, may I ask what your main concern is?",
    },
    "sales_techniques": ["rapport_building", "needs_assessment", "solution_presentation"],
}
SIXTY_WORD_SCRIPT = " ".join(["word"] * 60)


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache, which outlives a test; start each test at zero.
    cache.clear()


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def _agent_row(agent: AIAgent) -> dict:
    return AIAgent.objects.filter(pk=agent.pk).values().get()


@pytest.fixture
def blank_agent_a(client_a):
    return AIAgentFactory(client=client_a, name="Sarah", business_info={})


# --- set-up -------------------------------------------------------------------------------------


def test_setup_with_the_seed_body_creates_a_blank_agent(api_a, client_a, settings):
    response = api_a.post(SETUP, SEED_SETUP, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    agent = AIAgent.objects.get(client=client_a)
    assert body["public_id"] == str(agent.public_id)
    assert body["agent_name"] == "My Sales Assistant"
    assert (body["status"], body["training_level"], body["can_take_calls"]) == ("training", 0, False)
    assert sum(part["points"] for part in body["training_breakdown"].values()) == 0
    assert body["training_breakdown"]["script"] == {"points": 0, "max": 25}
    assert (body["working_hours_start"], body["working_hours_end"]) == ("09:00", "18:00")
    assert body["business_info"] == SEED_SETUP["business_info"]
    assert body["sales_goals"] == {"target_conversions": 50, "avg_deal_size": 1000.0}
    assert body["phone_number"] is None
    assert body["webhook_base_url"] == f"https://agents.example.com/webhooks/twilio/{agent.public_id}/"
    assert agent.voice_model == "en-US-female-1"


def test_setup_normalises_the_phone_number_and_takes_defaults(api_a):
    response = api_a.post(SETUP, {"agent_name": "Sam", "phone_number": "(415) 555-0123"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["phone_number"] == "+14155550123"
    assert (body["personality_type"], body["language"]) == ("friendly", "en-US")


def test_a_second_setup_is_a_conflict_and_changes_nothing(api_a, agent_a):
    before = _agent_row(agent_a)

    response = api_a.post(SETUP, SEED_SETUP, format="json")

    assert response.status_code == 409
    assert _error(response) == {"code": "agent_exists", "message": AGENT_EXISTS_MESSAGE}
    assert _agent_row(agent_a) == before


@pytest.mark.parametrize(
    "change,status,message",
    [
        ({"agent_name": ""}, 400, "agent_name: This field may not be blank."),
        ({"personality_type": "grumpy"}, 400, 'personality_type: "grumpy" is not a valid choice.'),
        ({"working_hours_start": "9am"}, 400, "working_hours_start: Time has wrong format."),
        ({"sales_goals": {"target_conversions": -5}}, 400, "sales_goals: target_conversions: Ensure this value"),
        ({"working_hours_start": "19:00"}, 422, "working_hours_start must be before working_hours_end."),
        ({"phone_number": "12"}, 422, "phone_number: '12' is not a valid phone number."),
    ],
)
def test_setup_validation_errors_say_what_is_wrong(api_a, client_a, change, status, message):
    response = api_a.post(SETUP, {**SEED_SETUP, **change}, format="json")

    assert response.status_code == status, response.content
    assert _error(response)["message"].startswith(message)
    assert not AIAgent.objects.filter(client=client_a).exists()


def test_setup_with_another_agents_number_is_a_conflict(api_a, agent_b):
    response = api_a.post(SETUP, {**SEED_SETUP, "phone_number": agent_b.phone_number}, format="json")

    assert response.status_code == 409
    assert _error(response)["code"] == "phone_in_use"
    assert "another" not in _error(response)["message"].lower()


def test_client_b_setting_up_creates_its_own_agent_and_leaves_a_alone(api_b, agent_a, client_b):
    before = _agent_row(agent_a)

    response = api_b.post(SETUP, SEED_SETUP, format="json")

    assert response.status_code == 201
    assert AIAgent.objects.get(public_id=response.json()["public_id"]).client == client_b
    assert _agent_row(agent_a) == before


# --- read / change ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [AGENT, SETUP])
def test_read_the_agent_on_both_paths(api_a, agent_a, path):
    response = api_a.get(path)

    assert response.status_code == 200
    assert response.json()["public_id"] == str(agent_a.public_id)
    assert response.json()["agent_name"] == "Sarah"


@pytest.mark.parametrize(
    "method,path", [("get", AGENT), ("patch", AGENT), ("get", SETUP), ("patch", SETUP), ("get", TRAINING)]
)
def test_without_an_agent_the_404_says_how_to_create_one(api_a, method, path):
    response = getattr(api_a, method)(path, {}, format="json")

    assert response.status_code == 404
    assert _error(response) == {"code": "agent_not_found", "message": NO_AGENT_MESSAGE}


def test_training_without_an_agent_is_404_too(api_a):
    response = api_a.post(TRAINING, SEED_TRAINING, format="json")

    assert response.status_code == 404
    assert _error(response)["message"] == NO_AGENT_MESSAGE


@pytest.mark.parametrize("path", [AGENT, SETUP])
def test_patch_changes_only_what_is_sent_and_merges_business_info(api_a, agent_a, path):
    response = api_a.patch(
        path,
        {
            "agent_name": "Sarah 2",
            "working_hours_end": "20:30",
            "business_info": {"value_proposition": "Cheaper power"},
            "followup_max_attempts": 5,
            "voicemail_message": "Call us back!",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    agent_a.refresh_from_db()
    assert agent_a.name == "Sarah 2"
    assert agent_a.working_hours_end.strftime("%H:%M") == "20:30"
    assert agent_a.business_info == {
        "company_name": "Acme Solar",
        "product_description": "Solar panels",
        "value_proposition": "Cheaper power",
    }
    assert (agent_a.followup_max_attempts, agent_a.voicemail_message) == (5, "Call us back!")
    assert agent_a.phone_number == "+14155550100"
    assert response.json()["working_hours_end"] == "20:30"


def test_patch_pauses_and_resumes_and_the_level_decides_the_resumed_status(api_a, agent_a):
    paused = api_a.patch(AGENT, {"status": "paused"}, format="json").json()
    resumed = api_a.patch(AGENT, {"status": "active"}, format="json").json()

    assert (paused["status"], paused["can_take_calls"]) == ("paused", False)
    assert (resumed["status"], resumed["can_take_calls"]) == ("active", True)


def test_resuming_an_untrained_agent_leaves_it_training(api_a, blank_agent_a):
    api_a.patch(AGENT, {"status": "paused"}, format="json")

    body = api_a.patch(AGENT, {"status": "active"}, format="json").json()

    assert body["status"] == "training"


@pytest.mark.parametrize(
    "body,status,message",
    [
        ({"status": "optimizing"}, 400, 'status: "optimizing" is not a valid choice.'),
        ({"followup_max_attempts": 11}, 400, "followup_max_attempts: Ensure this value is less than or equal to 10."),
        ({"working_hours_start": "23:00"}, 422, "working_hours_start must be before working_hours_end."),
        ({"phone_number": "not a number"}, 422, "phone_number: 'not a number' is not a phone number."),
        ({"business_info": "ABC"}, 400, "business_info: Invalid data. Expected a dictionary"),
    ],
)
def test_patch_validation_errors_say_what_is_wrong_and_change_nothing(api_a, agent_a, body, status, message):
    before = _agent_row(agent_a)

    response = api_a.patch(AGENT, body, format="json")

    assert response.status_code == status, response.content
    assert _error(response)["message"].startswith(message)
    assert _agent_row(agent_a) == before


def test_patch_can_remove_the_phone_number(api_a, agent_a):
    response = api_a.patch(AGENT, {"phone_number": ""}, format="json")

    assert response.status_code == 200
    agent_a.refresh_from_db()
    assert agent_a.phone_number is None


def test_patch_to_another_agents_number_is_a_conflict(api_a, agent_a, agent_b):
    response = api_a.patch(AGENT, {"phone_number": agent_b.phone_number}, format="json")

    assert response.status_code == 409
    assert _error(response)["code"] == "phone_in_use"
    # Whose number it is stays private: nothing says another client (or agent) has it.
    assert "another" not in _error(response)["message"].lower()
    assert (
        _error(response)["message"] == "That phone number is not available. Use a number from your own Twilio account."
    )
    agent_a.refresh_from_db()
    assert agent_a.phone_number == "+14155550100"


def test_client_b_reads_and_changes_only_its_own_agent(api_b, agent_a, agent_b):
    before = _agent_row(agent_a)

    read = api_b.get(AGENT).json()
    changed = api_b.patch(SETUP, {"agent_name": "Hijacked", "status": "paused"}, format="json")

    assert read["public_id"] == str(agent_b.public_id)
    assert changed.status_code == 200
    assert changed.json()["public_id"] == str(agent_b.public_id)
    assert _agent_row(agent_a) == before


def test_client_b_without_an_agent_gets_404_not_client_as_agent(api_b, agent_a):
    before = _agent_row(agent_a)

    assert api_b.get(AGENT).status_code == 404
    assert api_b.patch(AGENT, {"agent_name": "Hijacked"}, format="json").status_code == 404
    assert api_b.post(TRAINING, SEED_TRAINING, format="json").status_code == 404
    assert _agent_row(agent_a) == before
    assert not AIAgentTraining.objects.exists()


@pytest.mark.parametrize(
    "method,path",
    [("post", SETUP), ("patch", AGENT), ("patch", SETUP), ("get", SETUP), ("post", TRAINING)],
)
def test_anonymous_gets_401_everywhere(method, path, agent_a):
    before = _agent_row(agent_a)

    response = getattr(APIClient(), method)(path, {}, format="json")

    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"
    assert _agent_row(agent_a) == before


# --- training -----------------------------------------------------------------------------------


def test_training_with_the_seed_body_raises_the_level_by_the_material(api_a, blank_agent_a):
    response = api_a.post(TRAINING, SEED_TRAINING, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    session = AIAgentTraining.objects.get(ai_agent=blank_agent_a)
    assert body["session"]["id"] == str(session.id)
    assert body["session"]["training_type"] == "script"
    assert body["session"]["training_content"] == SEED_TRAINING["training_content"]
    assert body["session"]["objection_responses"] == SEED_TRAINING["objection_responses"]
    assert body["session"]["product_details"]["pricing"] == "$99/month"
    breakdown = body["agent"]["training_breakdown"]
    # 6 of 60 script words, pricing + 2/3 features + 2/3 benefits, 2 objections, 3 techniques.
    assert breakdown["script"]["points"] == 2.5
    assert breakdown["product"]["points"] == pytest.approx(15.3, abs=0.1)
    assert breakdown["objections"]["points"] == 10
    assert breakdown["techniques"]["points"] == 7.5
    assert body["agent"]["training_level"] == 35 == body["session"]["completion_percentage"]
    assert body["agent"]["status"] == "learning"
    blank_agent_a.refresh_from_db()
    assert (blank_agent_a.training_level, blank_agent_a.status) == (35, "learning")


def test_the_same_material_twice_does_not_raise_the_level(api_a, blank_agent_a):
    first = api_a.post(TRAINING, SEED_TRAINING, format="json").json()
    second = api_a.post(TRAINING, SEED_TRAINING, format="json").json()

    assert second["agent"]["training_level"] == first["agent"]["training_level"]
    assert AIAgentTraining.objects.filter(ai_agent=blank_agent_a).count() == 2


def test_status_moves_training_then_learning_at_20_then_active_at_80(api_a, blank_agent_a):
    def train(body):
        response = api_a.post(TRAINING, body, format="json")
        assert response.status_code == 201, response.content
        return response.json()["agent"]

    steps = [
        train({"training_type": "objection_handling", "objection_responses": {"a": "1", "b": "2", "c": "3"}}),
        train({"training_type": "objection_handling", "objection_responses": {"d": "4"}}),
        train({"training_type": "script", "training_content": SIXTY_WORD_SCRIPT}),
        train(
            {
                "training_type": "company_info",
                "company_info": {"company_name": "Acme", "product_description": "Solar", "value_proposition": "Save"},
                "faq": {f"q{i}": f"a{i}" for i in range(5)},
                "objection_responses": {"e": "5"},
            }
        ),
        train({"training_type": "techniques", "sales_techniques": ["a", "b", "c", "d"]}),
    ]

    assert [(s["training_level"], s["status"]) for s in steps] == [
        (15, "training"),
        (20, "learning"),
        (45, "learning"),
        (70, "learning"),
        (80, "active"),
    ]


def test_training_list_is_newest_first_and_paginated(api_a, agent_a):
    for i in range(3):
        AIAgentTrainingFactory(ai_agent=agent_a, training_data={"script": f"script {i}"})

    page = api_a.get(TRAINING, {"page_size": 2}).json()
    rest = api_a.get(TRAINING, {"page_size": 2, "page": 2}).json()

    assert page["count"] == 3
    assert [s["training_content"] for s in page["results"] + rest["results"]] == ["script 2", "script 1", "script 0"]
    assert page["next"].endswith("page=2&page_size=2")
    assert rest["next"] is None


def test_training_list_costs_the_same_queries_for_1_and_60_sessions(api_a, agent_a):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api_a.get(TRAINING, {"page_size": 200}).status_code == 200
        return len(captured)

    AIAgentTrainingFactory(ai_agent=agent_a)
    one = queries()
    AIAgentTrainingFactory.create_batch(59, ai_agent=agent_a)

    assert queries() == one


def test_training_list_past_the_last_page_is_a_404_with_the_error_shape(api_a, agent_a):
    response = api_a.get(TRAINING, {"page": 9})

    assert response.status_code == 404
    assert _error(response)["message"] == "Invalid page."


def test_training_list_of_client_b_never_shows_client_a_sessions(api_b, agent_a, agent_b):
    AIAgentTrainingFactory(ai_agent=agent_a, training_data={"script": "A's secret pitch"})
    AIAgentTrainingFactory(ai_agent=agent_b, training_data={"script": "B's pitch"})

    body = api_b.get(TRAINING).json()

    assert [s["training_content"] for s in body["results"]] == ["B's pitch"]


def test_client_b_training_changes_only_client_b(api_b, agent_a, agent_b):
    before = _agent_row(agent_a)

    response = api_b.post(TRAINING, SEED_TRAINING, format="json")

    assert response.status_code == 201
    assert not AIAgentTraining.objects.filter(ai_agent=agent_a).exists()
    assert AIAgentTraining.objects.filter(ai_agent=agent_b).count() == 1
    assert _agent_row(agent_a) == before


@pytest.mark.parametrize(
    "body,status,message",
    [
        (
            {"training_type": "poetry", "training_content": "Roses"},
            400,
            "training_type: Unknown training_type 'poetry'. Use one of: script, product, objection_handling",
        ),
        (
            {"training_type": "objection_handling", "objection_responses": ["price", "time"]},
            400,
            "objection_responses: Expected an object mapping each key to a text",
        ),
        (
            {"training_type": "objection_handling", "objection_responses": {"price_too_high": 42}},
            400,
            "objection_responses: Every value must be a text",
        ),
        (
            {"training_type": "techniques", "sales_techniques": "rapport_building"},
            400,
            'sales_techniques: Expected a list of items but got type "str".',
        ),
        ({"training_type": "techniques", "sales_techniques": [1, 2]}, 400, "sales_techniques: 0: Must be a text."),
        (
            {"training_type": "faq", "faq": {"q\x00": "a"}},
            422,  # well-formed JSON, refused because PostgreSQL cannot store a NUL
            "faq: Every key must be a text of at most 200 characters: Null characters are not allowed.",
        ),
        ({"training_type": "script"}, 422, EMPTY_TRAINING_MESSAGE),
        (
            {"training_type": "faq", "faq": {"  ": "blank question"}, "objection_responses": {"x": "   "}},
            422,
            EMPTY_TRAINING_MESSAGE,
        ),
        ({"training_content": "Hello"}, 400, "training_type: This field is required."),
    ],
)
def test_training_validation_errors_say_what_is_wrong_and_store_nothing(api_a, agent_a, body, status, message):
    before = _agent_row(agent_a)

    response = api_a.post(TRAINING, body, format="json")

    assert response.status_code == status, response.content
    assert _error(response)["message"].startswith(message)
    assert not AIAgentTraining.objects.exists()
    assert _agent_row(agent_a) == before


def test_patch_switches_the_voice_mode_and_refuses_an_unknown_one(api_a, agent_a):
    assert api_a.get(AGENT).json()["voice_mode"] == "gather"  # the default: every Twilio account has it

    switched = api_a.patch(AGENT, {"voice_mode": "relay"}, format="json")
    assert switched.status_code == 200 and switched.json()["voice_mode"] == "relay"
    unknown = api_a.patch(AGENT, {"voice_mode": "carrier-pigeon"}, format="json")
    assert unknown.status_code == 400 and "voice_mode" in unknown.content.decode()
    agent_a.refresh_from_db()
    assert agent_a.voice_mode == "relay"
