"""The daily report: at 09:00 client time, once a day, with the day's numbers and insights."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from smtplib import SMTPException
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from accounts.tests.factories import UserFactory
from callbacks.tests.factories import CallbackFactory
from calls.outcomes import call_outcome_learn
from calls.reports import agents_due_for_report, daily_report_build, daily_report_send, last_sent_on
from calls.tests.factories import CallFactory
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
WEDNESDAY_9_05 = datetime(2025, 6, 4, 9, 5, tzinfo=NY)


@pytest.fixture
def day_of_calls(agent_a, user_a):
    """Tuesday's calls and Wednesday's callbacks for client A (New York)."""
    UserFactory(client=agent_a.client, email="member@acme.test", role="member")
    UserFactory(client=agent_a.client, email="gone@acme.test", is_active=False)
    dana = CustomerFactory(ai_agent=agent_a, name="Dana Reyes")
    tuesday = datetime(2025, 6, 3, 15, 0, tzinfo=NY)
    for outcome, call_type in [
        ("converted", "outbound"), ("interested", "inbound"), ("not_interested", "outbound"),
        ("no_answer", "scheduled"), ("voicemail", "followup"),
    ]:  # fmt: skip
        CallFactory(customer_profile=dana, outcome=outcome, call_type=call_type, started_at=tuesday)
    CallFactory(customer_profile=dana, outcome="converted", started_at=tuesday - timedelta(days=1))  # Monday
    CallbackFactory(
        customer_profile=dana, scheduled_datetime=datetime(2025, 6, 4, 14, 30, tzinfo=NY), reason="Send the quote",
        priority_level=2,
    )  # fmt: skip
    CallbackFactory(customer_profile=dana, scheduled_datetime=datetime(2025, 6, 3, 16, 0, tzinfo=NY))  # overdue
    CallbackFactory(customer_profile=dana, scheduled_datetime=datetime(2025, 6, 5, 10, 0, tzinfo=NY))  # Thursday
    agent_a.conversation_memory = {"insights": ["Customers pick up most often around 17:00 their time."]}
    agent_a.save()
    return agent_a


def test_the_report_counts_yesterdays_calls_and_todays_callbacks(day_of_calls):
    with time_machine.travel(WEDNESDAY_9_05, tick=False):
        report = daily_report_build(agent=day_of_calls, today=WEDNESDAY_9_05.date())

    assert (report.calls, report.inbound, report.outbound) == (5, 1, 4)
    assert (report.answered, report.interested, report.conversions) == (3, 2, 1)
    assert (report.answer_rate, report.conversion_rate) == (60.0, 20.0)
    assert dict(report.outcomes) == {
        "Converted": 1, "Interested": 1, "Not interested": 1, "No answer": 1, "Voicemail": 1,
    }  # fmt: skip
    assert (report.callbacks_due, report.overdue) == (1, 1)
    assert [(c.when_local.hour, c.when_local.minute, c.customer) for c in report.callbacks] == [(14, 30, "Dana Reyes")]


def test_the_report_is_emailed_at_nine_client_time_once_a_day(day_of_calls):
    with time_machine.travel(WEDNESDAY_9_05 - timedelta(minutes=10), tick=False):  # 08:55
        assert agents_due_for_report() == []
        assert daily_report_send(agent_id=day_of_calls.pk) is False
    assert mail.outbox == []

    with time_machine.travel(WEDNESDAY_9_05, tick=False):
        assert agents_due_for_report() == [day_of_calls.pk]
        assert daily_report_send(agent_id=day_of_calls.pk) is True
        assert daily_report_send(agent_id=day_of_calls.pk) is False  # a second run the same morning
        assert agents_due_for_report() == []

    (email,) = mail.outbox
    assert email.subject == "Acme Solar: Sarah's day, Tue 3 Jun 2025"
    assert email.to == ["member@acme.test", "owner@acme.test"]
    assert "5 calls (1 inbound, 4 outbound)" in email.body
    assert "3 answered (60.0%), 2 interested, 1 converted (20.0%)" in email.body
    assert "CALLBACKS DUE TODAY (Wed 4 Jun): 1 - 1 overdue" in email.body
    assert "14:30 Dana Reyes (Callback, priority 2): Send the quote" in email.body
    assert "Customers pick up most often around 17:00 their time." in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html" and "Dana Reyes" in html and "<li>Converted: 1</li>" in html

    with time_machine.travel(WEDNESDAY_9_05 + timedelta(days=1), tick=False):
        assert daily_report_send(agent_id=day_of_calls.pk) is True  # Thursday's
    assert len(mail.outbox) == 2


def test_each_client_is_reported_on_at_nine_in_its_own_timezone(agent_a, agent_b, user_a, user_b):
    nine_in_london = datetime(2025, 6, 4, 9, 0, tzinfo=LONDON)  # 04:00 in New York
    with time_machine.travel(nine_in_london, tick=False):
        assert agents_due_for_report() == [agent_b.pk]
        daily_report_send(agent_id=agent_b.pk)
    with time_machine.travel(datetime(2025, 6, 4, 9, 0, tzinfo=NY), tick=False):
        assert agents_due_for_report() == [agent_a.pk]
    assert [m.to for m in mail.outbox] == [["owner@bravo.test"]]


def test_a_failed_send_is_given_back_and_tried_again(day_of_calls, monkeypatch):
    def smtp_down(self, fail_silently=False):
        raise SMTPException("connection refused")

    with time_machine.travel(WEDNESDAY_9_05, tick=False):
        monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", smtp_down)
        with pytest.raises(SMTPException):
            daily_report_send(agent_id=day_of_calls.pk)
        day_of_calls.refresh_from_db()
        assert last_sent_on(day_of_calls) == ""
        monkeypatch.undo()
        assert daily_report_send(agent_id=day_of_calls.pk) is True
    day_of_calls.refresh_from_db()
    assert last_sent_on(day_of_calls) == "2025-06-04"


def test_learning_keeps_the_sent_date(day_of_calls):
    with time_machine.travel(WEDNESDAY_9_05, tick=False):
        daily_report_send(agent_id=day_of_calls.pk)
        ended = CallFactory(customer_profile=CustomerFactory(ai_agent=day_of_calls), outcome="converted")
        call_outcome_learn(call=ended)

    day_of_calls.refresh_from_db()
    assert last_sent_on(day_of_calls) == "2025-06-04"
    assert day_of_calls.conversation_memory["processed_calls"] == 1


def test_the_email_speaks_plainly_about_objections_and_counts(day_of_calls):
    """'Price too high (1 call)', not 'price_too_high' and '1 calls'."""
    from agents.memory import OutcomeFacts, fold_outcomes, with_learned_summary

    facts = [OutcomeFacts("interested", True, WEDNESDAY_9_05.date(), 10, frozenset({"price_too_high"}))]
    day_of_calls.conversation_memory = with_learned_summary(fold_outcomes({}, facts), today=WEDNESDAY_9_05.date())
    day_of_calls.save()
    with time_machine.travel(WEDNESDAY_9_05, tick=False):
        assert daily_report_send(agent_id=day_of_calls.pk) is True
    (email,) = mail.outbox
    html = email.alternatives[0][0]
    for body in (email.body, html):
        assert "price_too_high" not in body
        assert "Price too high (1)" in body
        assert not re.search(r"\b1 calls\b", body)
    assert "The most common objection is 'Price too high' (1 call)." in email.body
