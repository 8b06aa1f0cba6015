"""The API's generic contract, one behaviour each (docs/adr/0009-api-matches-its-schema.md).

schemathesis (test_schemathesis.py) finds these across every operation; these tests pin each
rule down through the real door, so a regression names the rule it broke.
"""

from __future__ import annotations

import pytest

from customers.tests.factories import CustomerFactory


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


def test_a_malformed_id_in_an_api_path_is_a_json_404_and_other_pages_keep_the_html_one(api_a, agent_a, client):
    error = _error(api_a.get("/api/customers/null,null/"), 404)
    assert error == {"code": "not_found", "message": "Not found."}
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "query",
    ["page_size=null", "page_size=0", "page_size=201", "page_size=5&page_size=5", "page=0", "page=abc"],
)
def test_a_page_parameter_the_schema_forbids_is_a_400_naming_it(api_a, agent_a, query):
    CustomerFactory.create_batch(3, ai_agent=agent_a)
    error = _error(api_a.get(f"/api/customers/?{query}"), 400)
    assert query.split("=")[0] in error["fields"]
    valid = api_a.get("/api/customers/?page_size=2&page=2").json()
    assert (valid["count"], len(valid["results"])) == (3, 1)


@pytest.mark.parametrize("url", ["/api/customers/export/?ordering=", "/api/callbacks/?status=", "/api/calls/?status="])
def test_an_empty_filter_is_a_400_not_ignored(api_a, agent_a, url):
    error = _error(api_a.get(url), 400)
    assert "may not be empty" in error["message"]


def test_a_filter_given_twice_is_a_400(api_a, agent_a):
    error = _error(api_a.get("/api/customers/?interest_level=hot&interest_level=cold"), 400)
    assert "once" in error["fields"]["interest_level"][0]


def test_a_date_range_ending_before_it_starts_is_refused_with_422(api_a, agent_a):
    url = "/api/calls/?date_from=2026-01-02T00:00:00Z&date_to=2026-01-01T00:00:00Z"
    error = _error(api_a.get(url), 422)
    assert error["code"] == "validation_failed"
    assert "date_to" in error["fields"]


def test_an_unknown_timezone_is_422_and_a_malformed_one_400(api_a, agent_a):
    unknown = _error(api_a.patch("/api/account/settings/", {"timezone": "Mars/Olympus"}), 422)
    assert "not a known timezone" in unknown["message"]
    malformed = _error(api_a.patch("/api/account/settings/", {"timezone": "0"}), 400)
    assert malformed["code"] == "invalid"


def test_working_hours_are_hh_mm_in_and_out(api_a, agent_a):
    response = api_a.patch("/api/agents/ai/", {"working_hours_start": "08:30:00", "working_hours_end": "17:00"})
    assert response.status_code == 200, response.content
    assert (response.json()["working_hours_start"], response.json()["working_hours_end"]) == ("08:30", "17:00")
    _error(api_a.patch("/api/agents/ai/", {"working_hours_start": "00:00:00Z"}), 400)


def test_a_form_encoded_body_is_a_415(api_a, agent_a):
    response = api_a.post("/api/customers/", {"phone_number": "+14155550123"}, format="multipart")
    assert _error(response, 415)["code"] == "unsupported_media_type"


def test_a_number_where_the_schema_says_text_is_a_400(api_a, agent_a):
    response = api_a.post("/api/agents/ai/training/", {"training_type": "script", "client_instructions": 0})
    assert "client_instructions" in _error(response, 400)["fields"]


def test_the_schema_documents_the_framework_errors_of_every_operation(api_a):
    schema = api_a.get("/api/schema/?format=json").json()
    customer = schema["paths"]["/api/customers/{customer_id}/"]["patch"]["responses"]
    assert {"400", "401", "403", "404", "415", "422", "429"} <= set(customer)
    hours = schema["components"]["schemas"]["Agent"]["properties"]["working_hours_start"]
    assert "format" not in hours and hours["pattern"].startswith("^")
