"""The daily report's sent date leaves the agent's memory for a field of its own.

The data step moves ``conversation_memory["daily_report"]["last_sent_on"]`` into the field and
drops the key, so a report already sent today is not sent again after the upgrade; backwards,
it puts the key back.
"""

import datetime

from django.db import migrations, models

MEMORY_KEY = "daily_report"


def memory_to_field(apps, schema_editor):
    AIAgent = apps.get_model("agents", "AIAgent")
    for agent in AIAgent.objects.only("pk", "conversation_memory").iterator():
        memory = agent.conversation_memory if isinstance(agent.conversation_memory, dict) else {}
        if MEMORY_KEY not in memory:
            continue
        entry = memory.pop(MEMORY_KEY)
        raw = str(entry.get("last_sent_on", "")) if isinstance(entry, dict) else ""
        try:
            sent_on = datetime.date.fromisoformat(raw) if raw else None
        except ValueError:
            sent_on = None  # an unreadable date: the worst case is one report sent again
        AIAgent.objects.filter(pk=agent.pk).update(conversation_memory=memory, daily_report_sent_on=sent_on)


def field_to_memory(apps, schema_editor):
    AIAgent = apps.get_model("agents", "AIAgent")
    for agent in AIAgent.objects.filter(daily_report_sent_on__isnull=False).only(
        "pk", "conversation_memory", "daily_report_sent_on"
    ):
        memory = dict(agent.conversation_memory) if isinstance(agent.conversation_memory, dict) else {}
        memory[MEMORY_KEY] = {"last_sent_on": agent.daily_report_sent_on.isoformat()}
        AIAgent.objects.filter(pk=agent.pk).update(conversation_memory=memory)


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="aiagent",
            name="daily_report_sent_on",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(memory_to_field, field_to_memory),
    ]
