"""Run the conversation evals from the command line: `.venv/bin/python -m evals.run`.

It builds a throwaway test database (never the configured one), trains the demo agent in it,
drives every corpus case through the signed webhooks and prints the table, the opt-out
precision and recall, and each miss. The exit status is 1 when a threshold is not met.

    python -m evals.run                         # the scripted agent
    python -m evals.run --provider openai --repeat 5   # the LLM (OPENAI_API_KEY, OPENAI_MODEL, OPENAI_BASE_URL)
    python -m evals.run --category opt_out --quiet
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provider", choices=("scripted", "openai"), default="scripted")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the whole suite (pass rates per turn)")
    parser.add_argument("--category", action="append", help="only these categories (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="the table only, without the misses")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 50:
        parser.error("--repeat must be between 1 and 50")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesagents.test_settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings, setup_test_environment

    if args.provider == "openai" and not settings.OPENAI_API_KEY:
        parser.error("--provider openai needs OPENAI_API_KEY (and OPENAI_MODEL / OPENAI_BASE_URL as needed)")

    from django.db import connection

    from evals.runner import format_report, load_corpus, run_suite

    cases = [c for c in load_corpus() if not args.category or c.category in args.category]
    setup_test_environment()
    # The tables are made from the models (as pytest --no-migrations does): faster, same schema.
    connection.settings_dict.setdefault("TEST", {})["MIGRATE"] = False
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(
            PUBLIC_BASE_URL=settings.PUBLIC_BASE_URL or "https://agents.example.com",
            TELEPHONY_BACKEND="simulated",
            LLM_PROVIDER=args.provider,
            CELERY_TASK_ALWAYS_EAGER=True,
        ):
            report = run_suite(cases=cases, provider=args.provider, repeat=args.repeat)
    finally:
        connection.creation.destroy_test_db(database, verbosity=0)
    print(format_report(report, show_misses=not args.quiet))
    return 0 if report.meets_thresholds() else 1


if __name__ == "__main__":
    sys.exit(main())
