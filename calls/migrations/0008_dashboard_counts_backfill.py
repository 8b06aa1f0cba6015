from django.core.management import call_command
from django.db import migrations


def backfill(apps, schema_editor):
    # The counters start from the rows already there. This runs today's rebuild command: a
    # fresh database has no agent, so it does nothing there; an existing one is counted once.
    call_command("dashboard_counts_rebuild", verbosity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0007_dashboard_day_counts"),
        ("customers", "0008_dashboard_level_counts"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
