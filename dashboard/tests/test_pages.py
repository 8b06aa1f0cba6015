"""The dashboard pages through Django's test client: sign-in, tenancy, and what each page does."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Client, User
from agents.models import AIAgent, AIAgentTraining
from agents.services import training_add
from callbacks.models import ScheduledCallback
from callbacks.tests.factories import CallbackFactory
from calls.models import CallSession, CallTurn
from calls.outcomes import agent_learn_calls
from calls.tests.factories import CallFactory, CallTurnFactory
from customers import import_jobs
from customers.models import CustomerProfile, ImportJob
from customers.tests.factories import CustomerFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
PRICE_ANSWER = "With zero down, most homeowners pay less each month than their old bill."
# A Tuesday, 11:00 in New York: inside every calling window of client A's customers.
OFFICE_HOURS = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)

PAGES = ["overview", "training", "simulator", "calls", "customers", "customer-import", "callbacks"]


def url(name: str, **kwargs) -> str:
    return reverse(f"dashboard:{name}", kwargs=kwargs or None)


def text(response) -> str:
    return response.content.decode()


def trained(agent: AIAgent) -> AIAgent:
    training_add(
        agent=agent, training_type="script",
        training_content="Hi, this is [NAME] from [COMPANY]. We help homeowners cut their power bill with solar.",
    )  # fmt: skip
    training_add(agent=agent, training_type="objection_handling", objection_responses={"Price too high": PRICE_ANSWER})
    agent.refresh_from_db()
    return agent


# --- signing in ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_every_page_needs_sign_in(client, name):
    response = client.get(url(name))
    assert response.status_code == 302
    assert response.url.startswith("/login/?next=")


@pytest.mark.django_db
def test_signup_creates_client_and_owner_and_signs_in(client):
    response = client.post(
        url("signup"),
        {"company_name": "Sunrise Solar", "full_name": "Ana Ruiz", "email": "Ana@Sunrise.test",
         "password": "long-enough-pass-9", "timezone": "America/Chicago"},
    )  # fmt: skip
    assert response.status_code == 302
    assert response.url == url("onboarding")
    user = User.objects.get(email="ana@sunrise.test")
    assert user.client.name == "Sunrise Solar"
    assert user.client.timezone == "America/Chicago"
    assert user.role == User.Role.OWNER
    # Signed in, with no agent yet: every page leads to onboarding.
    assert client.get(url("overview")).url == url("onboarding")


@pytest.mark.django_db
def test_signup_shows_the_services_refusals_on_the_form(client, user_a):
    weak = client.post(
        url("signup"), {"company_name": "X", "email": "new@x.test", "password": "password", "timezone": "UTC"}
    )
    assert weak.status_code == 200
    assert "too common" in text(weak)
    taken = client.post(
        url("signup"),
        {"company_name": "X", "email": user_a.email, "password": "long-enough-pass-9", "timezone": "UTC"},
    )
    assert "already exists" in text(taken)
    assert Client.objects.filter(name="X").count() == 0


@pytest.mark.django_db
def test_login_and_logout(client, user_a, agent_a):
    bad = client.post(url("login"), {"username": user_a.email, "password": "wrong"})
    assert bad.status_code == 200
    assert "correct email" in text(bad).lower() or "enter a correct" in text(bad).lower()
    good = client.post(url("login"), {"username": user_a.email, "password": "correct-horse-battery"})
    assert good.status_code == 302
    assert client.get(url("overview")).status_code == 200
    assert client.get(url("logout")).status_code == 405  # a link cannot sign anyone out
    assert client.post(url("logout")).status_code == 302
    assert client.get(url("overview")).status_code == 302


@pytest.mark.django_db
def test_staff_are_sent_to_the_admin(client, staff_user):
    client.force_login(staff_user)
    response = client.get(url("overview"))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


# --- onboarding ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_every_page_sends_a_client_without_agent_to_onboarding(client, user_a, name):
    client.force_login(user_a)
    response = client.get(url(name))
    assert response.status_code == 302
    assert response.url == url("onboarding")


@pytest.mark.django_db
def test_onboarding_creates_the_blank_agent(client, user_a):
    client.force_login(user_a)
    page = client.get(url("onboarding"))
    assert page.status_code == 200
    assert 'value="Acme Solar"' in text(page)  # the company name is filled in
    response = client.post(
        url("onboarding"),
        {"agent_name": "Sarah", "personality_type": "consultative", "voice_model": "Polly.Amy-Neural",
         "working_hours_start": "08:30", "working_hours_end": "17:00", "phone_number": "",
         "company_name": "Acme Solar", "product_description": "Rooftop solar", "value_proposition": "Pay less",
         "target_conversions": "50", "avg_deal_size": "1000"},
    )  # fmt: skip
    assert response.status_code == 302
    assert response.url == url("training")
    agent = AIAgent.objects.get(client=user_a.client)
    assert (agent.name, agent.personality_type, agent.voice_model) == ("Sarah", "consultative", "Polly.Amy-Neural")
    assert (agent.status, agent.training_level) == ("training", 0)
    assert agent.business_info["product_description"] == "Rooftop solar"
    assert agent.sales_goals == {"target_conversions": 50, "avg_deal_size": 1000.0}
    assert client.get(url("onboarding")).url == url("overview")  # one agent per client


@pytest.mark.django_db
def test_onboarding_refuses_a_day_that_ends_before_it_starts(client, user_a):
    client.force_login(user_a)
    response = client.post(
        url("onboarding"),
        {"agent_name": "Sarah", "personality_type": "friendly", "voice_model": "Polly.Joanna-Neural",
         "working_hours_start": "18:00", "working_hours_end": "09:00", "company_name": "Acme"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "must end after it starts" in text(response)
    assert not AIAgent.objects.filter(client=user_a.client).exists()


# --- training ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_training_page_shows_level_breakdown_and_history(page_a, agent_a):
    trained(agent_a)
    response = page_a.get(url("training"))
    body = text(response)
    assert response.status_code == 200
    assert f'aria-valuenow="{agent_a.training_level}"' in body
    assert 'data-material="objections"' in body
    assert "Price too high" in body  # the trained objection fills the table
    assert "Objection handling" in body and "Sales script" in body  # history


@pytest.mark.django_db
def test_training_posts_go_through_training_add(page_a, agent_a):
    script = "Hi, this is [NAME] from [COMPANY]. " + "We help homeowners save money with solar. " * 8
    response = page_a.post(url("training"), {"section": "script", "training_content": script})
    assert response.status_code == 302
    agent_a.refresh_from_db()
    assert agent_a.knowledge["script"] == script.strip()
    session = AIAgentTraining.objects.get(ai_agent=agent_a)
    assert session.training_type == "script"
    assert agent_a.training_level == session.completion_percentage == 25 + 15  # script + company facts

    page_a.post(
        url("training"),
        {"section": "objections", "objection": ["Price too high", "Need to think", ""],
         "answer": [PRICE_ANSWER, "Take your time: shall I call you tomorrow?", ""]},
    )  # fmt: skip
    page_a.post(
        url("training"),
        {"section": "product", "pricing": "$0 down", "features": "Panels\nBattery\nApp", "benefits": "Save\nBackup"},
    )
    page_a.post(url("training"), {"section": "techniques", "techniques": ["rapport_building", "trial_close"]})
    page_a.post(url("training"), {"section": "faq", "question": ["Financing?"], "faq_answer": ["Yes, 0% APR."]})
    agent_a.refresh_from_db()
    assert agent_a.knowledge["objection_responses"] == {
        "Price too high": PRICE_ANSWER, "Need to think": "Take your time: shall I call you tomorrow?",
    }  # fmt: skip
    assert agent_a.knowledge["product_info"]["features"] == ["Panels", "Battery", "App"]
    assert agent_a.knowledge["sales_techniques"] == ["rapport_building", "trial_close"]
    assert agent_a.knowledge["faq"] == {"Financing?": "Yes, 0% APR."}
    assert agent_a.trainings.count() == 5


@pytest.mark.django_db
def test_training_table_rows_need_both_cells(page_a, agent_a):
    response = page_a.post(url("training"), {"section": "objections", "objection": ["Price"], "answer": [""]})
    assert response.status_code == 200
    assert "Every row needs an answer" in text(response)
    assert not agent_a.trainings.exists()


@pytest.mark.django_db
def test_training_row_partial(page_a):
    row = page_a.get(url("training-row") + "?kind=objection", **HTMX)
    assert row.status_code == 200
    assert 'name="objection"' in text(row) and "data-remove-row" in text(row)
    assert page_a.get(url("training-row") + "?kind=nope").status_code == 404


# --- the simulator -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_simulator_holds_a_call_through_the_webhooks(page_a, agent_a):
    trained(agent_a)
    dial = page_a.post(url("simulator-dial"), {"from_number": "+1 202 555 0143"}, **HTMX)
    assert dial.status_code == 200
    call = CallSession.objects.get(ai_agent=agent_a)
    assert call.call_type == "inbound"
    assert dial["HX-Push-Url"] == f"{url('simulator')}?call={call.twilio_call_sid}"
    assert "Thank you for calling Acme Solar, this is Sarah" in text(dial)  # an inbound greeting, not the script
    assert 'aria-live="polite"' in text(dial)

    objection = page_a.post(
        url("simulator-say", call_sid=call.twilio_call_sid), {"text": "It is too expensive"}, **HTMX
    )
    body = text(objection)
    assert PRICE_ANSWER in body
    assert 'data-action="answered_objection"' in body
    assert body.count("data-turn ") == 2  # only the caller's turn and the answer are appended

    booked = page_a.post(
        url("simulator-say", call_sid=call.twilio_call_sid), {"text": "I'm busy, call me tomorrow afternoon"}, **HTMX
    )
    assert 'data-action="schedule_callback"' in text(booked)
    assert "data-call-ended" in text(booked)
    call.refresh_from_db()
    assert call.is_final and call.outcome == "callback_requested"
    callback = ScheduledCallback.objects.get(ai_agent=agent_a)
    assert callback.source_call == call and callback.customer_profile.phone_number == "+12025550143"


@pytest.mark.django_db
def test_simulator_answers_an_outbound_call_and_hangs_up(page_a, agent_a):
    trained(agent_a)
    customer = CustomerFactory(ai_agent=agent_a)
    with time_machine.travel(OFFICE_HOURS):
        placed = page_a.post(url("call-start"), {"customer_id": str(customer.pk)}, **HTMX)
        assert "data-call-placed" in text(placed)
        call = CallSession.objects.get(ai_agent=agent_a)
        ringing = page_a.get(url("simulator"))
        assert url("simulator-answer", call_sid=call.twilio_call_sid) in text(ringing)
        answered = page_a.post(url("simulator-answer", call_sid=call.twilio_call_sid), **HTMX)
        assert "Hi, this is Sarah" in text(answered)
        page_a.post(url("simulator-hangup", call_sid=call.twilio_call_sid), **HTMX)
    call.refresh_from_db()
    assert call.answered_at and call.is_final


@pytest.mark.django_db
def test_simulator_refuses_a_bad_number(page_a):
    response = page_a.post(url("simulator-dial"), {"from_number": "not a number"}, **HTMX)
    assert response.status_code == 422
    assert not CallSession.objects.exists()


@pytest.mark.django_db
def test_simulator_dial_below_20_percent_says_why_and_places_nothing(page_a, agent_a):
    agent_a.training_level = 10
    agent_a.save(update_fields=["training_level"])
    response = page_a.post(url("simulator-dial"), {"from_number": "+1 202 555 0143"}, **HTMX)
    assert response.status_code == 409
    assert "Sarah is trained to 10%; it needs 20% to take calls." in text(response)
    assert not CallSession.objects.filter(ai_agent=agent_a).exists()


@pytest.mark.django_db
def test_simulator_steps_on_another_clients_call_are_404(page_a, agent_b):
    call = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_b), status="in_progress")
    sid = call.twilio_call_sid
    for name in ("simulator-say", "simulator-hangup", "simulator-answer"):
        assert page_a.post(url(name, call_sid=sid), {"text": "hello"}).status_code == 404
    assert not CallTurn.objects.filter(call=call).exists()
    call.refresh_from_db()
    assert call.status == "in_progress"


# --- calls ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_call_list_filters_and_paginates(page_a, agent_a, agent_b):
    customer = CustomerFactory(ai_agent=agent_a, name="Zoe Kim")
    converted = CallFactory(customer_profile=customer, outcome="converted")
    CallFactory.create_batch(30, customer_profile=customer, outcome="voicemail", call_type="followup")
    CallFactory(customer_profile=CustomerFactory(ai_agent=agent_b), outcome="converted")
    only = page_a.get(url("calls"), {"outcome": "converted"})
    assert text(only).count("data-call-id=") == 1
    assert str(converted.pk) in text(only)
    first = page_a.get(url("calls"))
    assert text(first).count("data-call-id=") == 25
    assert "1–25 of 31" in text(first)
    second = page_a.get(url("calls"), {"page": 2})
    assert text(second).count("data-call-id=") == 6
    typed = page_a.get(url("calls"), {"call_type": "followup", "search": "zoe"})
    assert text(typed).count("data-call-id=") == 25
    today = timezone.localdate(timezone=ZoneInfo("America/New_York"))  # client A's days
    dated = page_a.get(url("calls"), {"date_from": today.isoformat(), "date_to": today.isoformat()})
    assert "of 31" in text(dated)
    old = page_a.get(url("calls"), {"date_to": (today - timedelta(days=3)).isoformat()})
    assert "No calls match" in text(old)


@pytest.mark.django_db
def test_call_detail_shows_turns_latency_sentiment_actions_and_recording(page_a, agent_a):
    call = CallFactory(
        customer_profile=CustomerFactory(ai_agent=agent_a, name="Ava Patel"), outcome="callback_requested",
        recording_url="https://api.twilio.com/rec/RE123.mp3", duration_seconds=95,
        sentiment_analysis={"label": "negative", "score": -0.5, "negative": ["expensive"], "timeline": [-0.8, 0.2]},
    )  # fmt: skip
    CallTurnFactory(call=call, sequence=0, text="Hi, this is Sarah.", latency_ms=420)
    CallTurnFactory(call=call, sequence=1, speaker="caller", text="Too expensive.")
    CallTurnFactory(
        call=call, sequence=2, text=PRICE_ANSWER, latency_ms=1350,
        actions=[{"type": "answered_objection", "key": "price_too_high"},
                 {"type": "schedule_callback", "booked": "2026-03-11T19:00:00+00:00", "moved": False},
                 {"type": "mark_do_not_call", "callbacks_cancelled": 2}],
    )  # fmt: skip
    body = text(page_a.get(url("call-detail", call_id=call.pk)))
    assert body.count("data-turn ") == 3
    assert 'data-latency="420"' in body and "1.35 s" in body
    assert '<audio controls preload="none" src="https://api.twilio.com/rec/RE123.mp3"' in body
    assert "Callback booked for Wed 11 Mar, 15:00" in body  # 19:00 UTC in New York
    assert "Do-not-call set; 2 callbacks cancelled" in body
    assert "Trained answer given: Price too high" in body
    assert 'data-badge="sentiment" data-value="negative"' in body
    assert "1m 35s" in body


@pytest.mark.django_db
def test_call_detail_shows_a_relay_turns_time_to_first_and_last_word_and_an_interruption(page_a, agent_a):
    call = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    CallTurnFactory(call=call, sequence=0, text="Hi, this is", latency_ms=380, interrupted=True)
    CallTurnFactory(call=call, sequence=1, speaker="caller", text="What does it cost?")
    CallTurnFactory(call=call, sequence=2, text="From $89 a month.", latency_ms=640, first_token_ms=212,
                    last_token_ms=640, provider="openai")  # fmt: skip
    body = text(page_a.get(url("call-detail", call_id=call.pk)))
    assert 'data-first-word="212"' in body and "first word 212 ms · last 640 ms · openai" in body
    assert body.count("data-interrupted") == 1


@pytest.mark.django_db
def test_overview_shows_relay_time_to_first_word_next_to_the_gather_figures(page_a, agent_a, settings):
    settings.DASHBOARD_CHART_CACHE_SECONDS = 0
    call = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    CallTurnFactory(call=call, sequence=0, latency_ms=900)
    CallTurnFactory(call=call, sequence=2, latency_ms=700, first_token_ms=150, last_token_ms=700)
    body = text(page_a.get(url("overview")))
    assert 'data-latency="p50">900 ms<' in body
    assert 'data-relay-latency="p50">150 ms<' in body


@pytest.mark.django_db
def test_call_detail_of_another_client_is_404(page_a, agent_b):
    call = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_b))
    assert page_a.get(url("call-detail", call_id=call.pk)).status_code == 404


@pytest.mark.django_db
def test_call_detail_without_recording_has_no_player(page_a, agent_a):
    call = CallFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    assert "<audio" not in text(page_a.get(url("call-detail", call_id=call.pk)))


@pytest.mark.django_db
def test_start_call_places_it_within_the_rules(page_a, agent_a):
    trained(agent_a)
    with time_machine.travel(OFFICE_HOURS):
        response = page_a.post(url("call-start"), {"phone_number": "(212) 555-0199", "context": "Quote"}, **HTMX)
    assert "data-call-placed" in text(response)
    call = CallSession.objects.get(ai_agent=agent_a)
    assert (call.call_type, call.status, call.context) == ("outbound", "queued", "Quote")
    assert call.customer_profile.phone_number == "+12125550199"


@pytest.mark.django_db
def test_start_call_refused_for_a_new_number_adds_no_customer(page_a, agent_a):
    trained(agent_a)
    with time_machine.travel(datetime(2026, 3, 10, 3, 0, tzinfo=UTC)):  # 23:00 in New York
        response = page_a.post(url("call-start"), {"phone_number": "(212) 555-0199"}, **HTMX)
    body = text(response)
    assert "data-call-refused" in body
    assert "09:00 for the customer (America/New_York)" in body
    assert not CustomerProfile.objects.filter(ai_agent=agent_a).exists()


@pytest.mark.django_db
def test_call_now_is_disabled_for_a_do_not_call_customer(page_a, agent_a):
    trained(agent_a)
    opted_out = CustomerFactory(ai_agent=agent_a, name="Ava", is_do_not_call=True)
    callable_ = CustomerFactory(ai_agent=agent_a, name="Liam")
    button = re.compile(r"<button[^>]*>\s*<svg[^>]*>.*?</svg>\s*Call now</button>", re.S)
    (blocked,) = button.findall(text(page_a.get(url("customer-detail", customer_id=opted_out.pk))))
    assert " disabled" in blocked and 'aria-describedby="call-blocked"' in blocked
    assert "Ava is on the do-not-call list" in text(page_a.get(url("customer-detail", customer_id=opted_out.pk)))
    (allowed,) = button.findall(text(page_a.get(url("customer-detail", customer_id=callable_.pk))))
    assert " disabled" not in allowed


@pytest.mark.django_db
def test_start_call_shows_the_refusal_and_the_next_allowed_time(page_a, agent_a):
    trained(agent_a)
    customer = CustomerFactory(ai_agent=agent_a)
    at_night = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 23:00 in New York
    with time_machine.travel(at_night):
        response = page_a.post(url("call-start"), {"customer_id": str(customer.pk)}, **HTMX)
    body = text(response)
    assert "data-call-refused" in body
    assert "calls are allowed 08:00-21:00 customer time" in body
    assert "Next allowed: <strong>Tue 10 Mar, 09:00</strong>" in body  # the agent starts at 09:00
    assert not CallSession.objects.exists()


@pytest.mark.django_db
def test_start_call_refuses_a_do_not_call_customer_without_htmx(page_a, agent_a):
    trained(agent_a)
    customer = CustomerFactory(ai_agent=agent_a, is_do_not_call=True)
    back = url("customer-detail", customer_id=customer.pk)
    response = page_a.post(url("call-start"), {"customer_id": str(customer.pk), "next": back}, follow=True)
    assert response.redirect_chain[-1][0] == back
    assert "do-not-call list" in text(response)
    assert not CallSession.objects.exists()


@pytest.mark.django_db
def test_start_call_to_another_clients_customer_is_404(page_a, agent_b):
    customer = CustomerFactory(ai_agent=agent_b)
    assert page_a.post(url("call-start"), {"customer_id": str(customer.pk)}, **HTMX).status_code == 404
    assert not CallSession.objects.exists()


# --- customers -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_list_filters_and_search(page_a, agent_a, agent_b):
    CustomerFactory(ai_agent=agent_a, name="Hot Harry", interest_level="hot")
    CustomerFactory(ai_agent=agent_a, name="Done Dana", interest_level="converted", is_converted=True)
    CustomerFactory(ai_agent=agent_a, name="Quiet Quinn", is_do_not_call=True, phone_number="+13125550188")
    CustomerFactory(ai_agent=agent_b, name="Other Olga", interest_level="hot")

    def names(**params):
        return re.findall(r'class="row-link strong"[^>]*>([^<]+)<', text(page_a.get(url("customers"), params)))

    assert sorted(names()) == ["Done Dana", "Hot Harry", "Quiet Quinn"]
    assert names(interest_level="hot") == ["Hot Harry"]
    assert names(converted="yes") == ["Done Dana"]
    assert names(dnc="yes") == ["Quiet Quinn"]
    assert names(search="(312) 555-0188") == ["Quiet Quinn"]
    assert 'href="/customers/export.csv?interest_level=hot"' in text(
        page_a.get(url("customers"), {"interest_level": "hot"})
    )


@pytest.mark.django_db
def test_customer_detail_shows_history_objections_preferences_notes_callbacks(page_a, agent_a):
    customer = CustomerFactory(
        ai_agent=agent_a, name="Ava Patel", call_preference_time="afternoon", preferences={"channel": "phone"},
        objections=[{"key": "price_too_high", "text": "too pricey", "at": "2026-03-01T15:00:00+00:00"}],
        conversation_notes=[{"at": "2026-03-01T15:00:00+00:00", "text": "Wants a quote", "source": "api"}],
    )  # fmt: skip
    call = CallFactory(customer_profile=customer, outcome="interested")
    CallbackFactory(customer_profile=customer, reason="Discuss the quote")
    body = text(page_a.get(url("customer-detail", customer_id=customer.pk)))
    assert url("call-detail", call_id=call.pk) in body
    assert "Price too high" in body and "too pricey" in body
    assert "Wants a quote" in body
    assert "Afternoon" in body and "Channel" in body
    assert "Discuss the quote" in body


@pytest.mark.django_db
def test_the_do_not_call_switch_cancels_open_callbacks_and_undoing_it_revives_none(page_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    CallbackFactory.create_batch(2, customer_profile=customer)
    done = CallbackFactory(customer_profile=customer, status="completed")

    on = page_a.post(url("customer-do-not-call", customer_id=customer.pk), {"do_not_call": "1"}, follow=True)

    assert "On the do-not-call list; 2 open callbacks cancelled." in text(on)
    customer.refresh_from_db()
    assert customer.is_do_not_call
    assert sorted(ScheduledCallback.objects.values_list("status", flat=True)) == ["canceled", "canceled", "completed"]
    off = page_a.post(url("customer-do-not-call", customer_id=customer.pk), {"do_not_call": "0"}, follow=True)
    assert "Taken off the do-not-call list. Cancelled callbacks stay cancelled." in text(off)
    customer.refresh_from_db()
    assert not customer.is_do_not_call
    assert not ScheduledCallback.objects.filter(status="scheduled").exists()
    done.refresh_from_db()
    assert done.status == "completed"


@pytest.mark.django_db
def test_customer_pages_of_another_client_are_404(page_a, agent_b):
    customer = CustomerFactory(ai_agent=agent_b)
    CallbackFactory(customer_profile=customer)
    assert page_a.get(url("customer-detail", customer_id=customer.pk)).status_code == 404
    response = page_a.post(url("customer-do-not-call", customer_id=customer.pk), {"do_not_call": "1"})
    assert response.status_code == 404
    customer.refresh_from_db()
    assert not customer.is_do_not_call
    assert ScheduledCallback.objects.get().status == "scheduled"


@pytest.mark.django_db
def test_do_not_call_switch_cancels_open_callbacks(page_a, agent_a):
    customer = CustomerFactory(ai_agent=agent_a)
    CallbackFactory.create_batch(2, customer_profile=customer)
    response = page_a.post(url("customer-do-not-call", customer_id=customer.pk), {"do_not_call": "1"}, follow=True)
    assert "2 open callbacks cancelled" in text(response)
    customer.refresh_from_db()
    assert customer.is_do_not_call
    assert set(ScheduledCallback.objects.values_list("status", flat=True)) == {"canceled"}


@pytest.mark.django_db
def test_export_streams_the_filtered_customers(page_a, agent_a, agent_b):
    CustomerFactory(ai_agent=agent_a, name="Hot Harry", interest_level="hot", phone_number="+12125550101")
    CustomerFactory(ai_agent=agent_a, name="Cold Carl", phone_number="+12125550102")
    CustomerFactory(ai_agent=agent_b, name="Other Olga", interest_level="hot")
    response = page_a.get(url("customer-export"), {"interest_level": "hot"})
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("phone_number,name")
    assert "Hot Harry" in body and "Cold Carl" not in body and "Olga" not in body


# --- CSV import ----------------------------------------------------------------------------------

CSV_WITH_ONE_BAD_ROW = (
    "phone_number,name,email,interest_level\n"
    "+1 212 555 0101,Ava Patel,ava@example.com,warm\n"
    "(415) 555-0102,Liam Garcia,,cold\n"
    "12,Bad Number,,warm\n"
    "212.555.0104,Mia Kim,mia@example.com,hot\n"
)


def upload(content: str, name: str = "leads.csv") -> io.BytesIO:
    stream = io.BytesIO(content.encode())
    stream.name = name
    return stream


def job_id_in(body: str) -> str:
    return re.search(r'data-import-job="([0-9a-f-]+)"', body).group(1)


def poll(page, job_id: str) -> str:
    """What the page's HTMX poll gets: the progress partial of the job as it stands."""
    response = page.get(url("customer-import-job", job_id=job_id), **HTMX)
    assert response.status_code == 200
    return text(response)


# The upload answers at once with the queued job; the worker (Celery, eager in tests) starts
# when the upload's transaction commits, and the page then polls the job row until it is done.


@pytest.mark.django_db
def test_import_with_htmx_reports_line_numbered_errors(page_a, agent_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = page_a.post(url("customer-import"), {"file": upload(CSV_WITH_ONE_BAD_ROW)}, **HTMX)
    assert response.status_code == 200
    assert 'data-done="false"' in text(response) and 'hx-trigger="every 1s"' in text(response)
    body = poll(page_a, job_id_in(text(response)))
    assert 'data-done="true"' in body
    assert 'data-error-line="4"' in body
    assert "Import finished" in body
    assert "hx-trigger" not in body  # a finished job stops the poll
    assert agent_a.customers.count() == 3
    assert re.search(r"data-import-created>3<", body) and re.search(r"data-import-errors>1<", body)


@pytest.mark.django_db
def test_import_without_javascript_shows_the_report(page_a, agent_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = page_a.post(url("customer-import"), {"file": upload(CSV_WITH_ONE_BAD_ROW)})
    assert response.status_code == 302
    body = text(page_a.get(response["Location"]))
    assert 'data-error-line="4"' in body
    assert "Import finished" in body
    assert agent_a.customers.count() == 3


@pytest.mark.django_db
def test_import_page_shows_progress_then_the_result_and_finds_repeats_across_batches(
    page_a, agent_a, monkeypatch, django_capture_on_commit_callbacks
):
    """Batches of 2 rows: the page, polled between batches, shows the bar moving, then the report."""
    monkeypatch.setattr(import_jobs, "BATCH_SIZE", 2)
    seen: list[str] = []
    real_import = import_jobs.customers_import

    def import_and_poll(*, progress, **kwargs):
        def progress_then_poll(p):
            progress(p)
            seen.append(poll(page_a, str(ImportJob.objects.get().pk)))

        return real_import(progress=progress_then_poll, **kwargs)

    monkeypatch.setattr(import_jobs, "customers_import", import_and_poll)
    rows = [f"+1212555{n:04d},Person {n}" for n in range(1, 8)] + ["+12125550001,Again"]
    csv_text = "phone_number,name\n" + "\n".join(rows) + "\n"
    with django_capture_on_commit_callbacks(execute=True):
        first = page_a.post(url("customer-import"), {"file": upload(csv_text)}, **HTMX)
    assert 'data-done="false"' in text(first)
    assert 'role="progressbar"' in text(first)
    assert len(seen) >= 3
    assert all('data-done="false"' in body and 'hx-trigger="every 1s"' in body for body in seen)
    assert 'aria-valuenow="25"' in seen[0] and "2 rows read of 8" in seen[0]
    assert 'aria-valuenow="75"' in seen[2]
    body = poll(page_a, job_id_in(text(first)))
    assert 'aria-valuenow="100"' in body and "Import finished" in body
    assert agent_a.customers.count() == 7
    assert 'data-error-line="9"' in body
    assert "+12125550001 is already on line 2" in body
    job = ImportJob.objects.get()
    assert (job.created, job.error_count, job.rows_processed) == (7, 1, 8)
    assert job.status == "done" and not job.file  # the stored upload is gone with the job done


@pytest.mark.django_db
def test_import_refuses_a_file_without_phone_column(page_a, agent_a):
    response = page_a.post(url("customer-import"), {"file": upload("name,email\nAva,a@x.test\n")}, **HTMX)
    assert "no phone_number" in text(response)
    assert response["HX-Retarget"] == "#import-form"
    assert not agent_a.customers.exists()
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("phone_number\n+12125550101\n".encode("utf-16-le"), "This is not a text file"),  # UTF-16 without its BOM
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a text file"),
        (b"", "The submitted file is empty"),
    ],
)
def test_import_refuses_a_file_that_is_not_text_with_the_reason(page_a, agent_a, content, message):
    stream = io.BytesIO(content)
    stream.name = "leads.csv"
    response = page_a.post(url("customer-import"), {"file": stream}, **HTMX)
    assert message in text(response)
    assert not agent_a.customers.exists() and not ImportJob.objects.exists()


@pytest.mark.django_db
def test_import_refuses_a_file_too_big_before_storing_it(page_a, agent_a, monkeypatch):
    monkeypatch.setattr(import_jobs, "MAX_UPLOAD_BYTES", 1024 * 1024)
    big = CSV_WITH_ONE_BAD_ROW + "+12125550105,Filler\n" * 64_000  # about 1.2 MB
    response = page_a.post(url("customer-import"), {"file": upload(big)}, **HTMX)
    assert "The file is 1.2 MB; the limit here is 1 MB." in text(response)
    assert "manage.py import_customers" in text(response)
    assert not agent_a.customers.exists() and not ImportJob.objects.exists()


@pytest.mark.django_db
def test_import_job_of_another_client_is_404(client, page_a, agent_a, user_b, agent_b):
    response = page_a.post(url("customer-import"), {"file": upload(CSV_WITH_ONE_BAD_ROW)}, **HTMX)
    job_id = job_id_in(text(response))
    client.force_login(user_b)
    assert client.get(url("customer-import-job", job_id=job_id), **HTMX).status_code == 404
    assert client.get(url("customer-import-job", job_id=job_id)).status_code == 404
    assert client.get(url("customer-import"), {"job": job_id}).status_code == 404
    assert client.get(url("customer-import"), {"job": "../../etc"}).status_code == 404
    assert ImportJob.objects.get().status == "queued"  # looking at it did not run or change it
    assert not agent_a.customers.exists() and not agent_b.customers.exists()


# --- callbacks -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_callbacks_lists_overdue_and_upcoming_by_priority(page_a, agent_a, agent_b):
    customer = CustomerFactory(ai_agent=agent_a)
    now = timezone.now()
    late = CallbackFactory(customer_profile=customer, scheduled_datetime=now - timedelta(hours=3), priority_level=4)
    urgent_late = CallbackFactory(
        customer_profile=customer, scheduled_datetime=now - timedelta(hours=1), priority_level=1
    )
    soon = CallbackFactory(customer_profile=customer, scheduled_datetime=now + timedelta(hours=1), priority_level=3)
    urgent = CallbackFactory(customer_profile=customer, scheduled_datetime=now + timedelta(days=2), priority_level=1)
    done = CallbackFactory(customer_profile=customer, status="completed")
    CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_b))
    body = text(page_a.get(url("callbacks")))
    overdue, upcoming = body.split('data-section="upcoming"')
    assert re.findall(r'data-callback-id="([^"]+)"', overdue) == [str(urgent_late.pk), str(late.pk)]
    assert re.findall(r'data-callback-id="([^"]+)"', upcoming) == [str(urgent.pk), str(soon.pk)]
    finished = text(page_a.get(url("callbacks"), {"show": "done"}))
    assert re.findall(r'data-callback-id="([^"]+)"', finished) == [str(done.pk)]


@pytest.mark.django_db
def test_reschedule_note_writes_the_date_as_the_table_does(page_a, agent_a):
    """'Moved to Thu 2 Apr', as the When column says it, not 'Thu 02 Apr' next to it."""
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    with time_machine.travel(OFFICE_HOURS):
        response = page_a.post(
            url("callback-reschedule", callback_id=callback.pk), {"when": "2026-04-02T14:30", "priority": "1"}, **HTMX
        )
    body = text(response)
    assert "Moved to Thu 2 Apr, 14:30." in body
    assert body.count("Thu 2 Apr, 14:30") == 2  # the note and the When cell


@pytest.mark.django_db
def test_reschedule_and_cancel(page_a, agent_a):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_a))
    with time_machine.travel(OFFICE_HOURS):
        response = page_a.post(
            url("callback-reschedule", callback_id=callback.pk), {"when": "2026-03-12T14:30", "priority": "1"}, **HTMX
        )
    assert "Moved to Thu 12 Mar, 14:30" in text(response)
    callback.refresh_from_db()
    assert callback.scheduled_datetime == datetime(2026, 3, 12, 18, 30, tzinfo=UTC)  # 14:30 in New York
    assert callback.priority_level == 1
    with time_machine.travel(OFFICE_HOURS):
        moved = page_a.post(
            url("callback-reschedule", callback_id=callback.pk), {"when": "2026-03-12T23:30", "priority": "2"}, **HTMX
        )
    assert "first time the customer may be called" in text(moved)
    cancel = page_a.post(url("callback-cancel", callback_id=callback.pk), **HTMX)
    assert "Cancelled." in text(cancel)
    callback.refresh_from_db()
    assert callback.status == "canceled"
    again = page_a.post(url("callback-cancel", callback_id=callback.pk), **HTMX)
    assert "only a scheduled one can be cancelled" in text(again)


@pytest.mark.django_db
def test_callback_actions_on_another_clients_callback_are_404(page_a, agent_b):
    callback = CallbackFactory(customer_profile=CustomerFactory(ai_agent=agent_b))
    before = callback.scheduled_datetime
    assert page_a.post(url("callback-cancel", callback_id=callback.pk)).status_code == 404
    reschedule = page_a.post(
        url("callback-reschedule", callback_id=callback.pk), {"when": "2030-01-01T10:00", "priority": "1"}
    )
    assert reschedule.status_code == 404
    callback.refresh_from_db()
    assert (callback.status, callback.scheduled_datetime) == ("scheduled", before)


# --- overview ------------------------------------------------------------------------------------


def chart_data(response) -> dict:
    match = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', text(response), re.S)
    return json.loads(match.group(1))


@pytest.mark.django_db
def test_overview_charts_carry_the_numbers(page_a, agent_a, agent_b):
    customer = CustomerFactory(ai_agent=agent_a, interest_level="hot")
    CustomerFactory(ai_agent=agent_a, interest_level="warm")
    CustomerFactory(ai_agent=agent_a)
    now = timezone.now()
    for outcome in ("converted", "converted", "voicemail"):
        CallFactory(customer_profile=customer, outcome=outcome, started_at=now - timedelta(minutes=5))
    CallFactory(customer_profile=customer, outcome="interested", started_at=now - timedelta(days=2))
    turn_call = CallFactory(customer_profile=customer, outcome="answered", started_at=now - timedelta(minutes=1))
    CallTurnFactory(call=turn_call, sequence=0, latency_ms=100)
    CallTurnFactory(call=turn_call, sequence=1, latency_ms=300)
    CallFactory(customer_profile=CustomerFactory(ai_agent=agent_b), outcome="converted")  # another client's
    CallbackFactory(customer_profile=customer, scheduled_datetime=now - timedelta(hours=1))
    # What the learning task does with closed calls: fold them into the agent's memory.
    agent_learn_calls(agent=agent_a, calls=list(CallSession.objects.filter(ai_agent=agent_a)))

    response = page_a.get(url("overview"))
    assert response.status_code == 200
    charts = chart_data(response)
    per_day = {ds["key"]: ds["data"] for ds in charts["calls_per_day"]["datasets"]}
    assert sum(per_day["converted"]) == 2
    assert sum(per_day["interested"]) == 1
    assert sum(charts["calls_per_day"]["totals"]) == 5
    assert charts["funnel"]["reached"] == [3, 2, 1, 0]
    assert sum(charts["pickup"]["attempts"]) == 5  # from the learned memory
    assert sum(charts["pickup"]["answered"]) == 4  # voicemail is not a person
    assert charts["latency"]["values_ms"] == [200.0, 290.0]
    body = text(response)
    assert 'data-alert="overdue_callbacks"' in body
    assert 'data-chart-table="calls_per_day"' in body
    assert 'canvas id="chart-calls-per-day"' in body


@pytest.mark.django_db
def test_overview_caches_the_recent_series_per_agent(page_a, agent_a, settings):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.DASHBOARD_CHART_CACHE_SECONDS = 60
    cache.clear()
    customer = CustomerFactory(ai_agent=agent_a)
    CallFactory(customer_profile=customer, outcome="converted")
    with CaptureQueriesContext(connection) as cold:
        first = page_a.get(url("overview"))
    CallFactory(customer_profile=customer, outcome="converted")
    with CaptureQueriesContext(connection) as warm:
        second = page_a.get(url("overview"))
    assert len(warm) < len(cold)
    assert chart_data(second)["calls_per_day"] == chart_data(first)["calls_per_day"]  # at most a minute old
    assert 'data-kpi="calls-window">2<' in text(second)  # the figures above the charts are live
    cache.clear()


@pytest.mark.django_db
def test_start_call_with_twilio_unreachable_says_so_and_leaves_no_live_call(page_a, agent_a, settings, monkeypatch):
    from functools import partial

    from calls import telephony
    from calls.tests.fake_twilio import FakeTwilioServer
    from integrations.twilio import TwilioGateway

    down = FakeTwilioServer().start()
    down.stop()  # connection refused
    settings.TELEPHONY_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "platform-token"
    monkeypatch.setattr(telephony, "TwilioGateway", partial(TwilioGateway, http_client=down.http_client()))
    trained(agent_a)
    with time_machine.travel(OFFICE_HOURS):
        response = page_a.post(url("call-start"), {"phone_number": "(212) 555-0199"}, **HTMX)
    assert response.status_code == 200
    body = text(response)
    assert "The phone service could not be reached. Please try again in a moment." in body
    assert "127.0.0.1" not in body and "HTTPConnectionPool" not in body
    assert CallSession.objects.get(ai_agent=agent_a).status == "failed"


def test_every_list_searches_with_the_same_parameter(page_a, api_a, agent_a):
    """`search` filters the dashboard's lists and export as it filters the API's lists."""
    quinn = CustomerFactory(ai_agent=agent_a, name="Quiet Quinn", phone_number="+13125550188")
    harry = CustomerFactory(ai_agent=agent_a, name="Hot Harry", phone_number="+13125550199")
    CallFactory(customer_profile=quinn)
    CallFactory(customer_profile=harry)
    params = {"search": "quinn"}

    customers_page = text(page_a.get(url("customers"), params))
    assert "Quiet Quinn" in customers_page and "Hot Harry" not in customers_page
    assert 'name="search"' in customers_page  # the filter form sends the same name
    calls_page = text(page_a.get(url("calls"), params))
    assert calls_page.count("data-call-id=") == 1 and 'name="search"' in calls_page
    export = b"".join(page_a.get(url("customer-export"), params).streaming_content).decode()
    assert "Quiet Quinn" in export and "Hot Harry" not in export
    assert [c["name"] for c in api_a.get("/api/customers/", params).json()["results"]] == ["Quiet Quinn"]
    assert len(api_a.get("/api/calls/", params).json()["results"]) == 1
