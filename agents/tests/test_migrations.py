"""agents 0003: the daily report's sent date moves out of the memory and back without loss."""

from __future__ import annotations

import importlib
from datetime import date

from django.apps import apps
from django.db import connection

from agents.models import AIAgent

moving = importlib.import_module("agents.migrations.0003_daily_report_sent_on")


def test_sent_date_leaves_the_memory_for_its_field_and_can_go_back(agent_a, agent_b):
    learned = {"processed_calls": 3, "daily_report": {"last_sent_on": "2025-06-04"}}
    AIAgent.objects.filter(pk=agent_a.pk).update(conversation_memory=learned)
    AIAgent.objects.filter(pk=agent_b.pk).update(conversation_memory={"processed_calls": 1})

    moving.memory_to_field(apps, connection.schema_editor())

    agent_a.refresh_from_db()
    agent_b.refresh_from_db()
    assert agent_a.daily_report_sent_on == date(2025, 6, 4)
    assert agent_a.conversation_memory == {"processed_calls": 3}
    assert (agent_b.daily_report_sent_on, agent_b.conversation_memory) == (None, {"processed_calls": 1})

    moving.field_to_memory(apps, connection.schema_editor())

    agent_a.refresh_from_db()
    assert agent_a.conversation_memory == learned
