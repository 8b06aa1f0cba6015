"""CI gate: the scripted agent passes the conversation evals through the signed webhooks."""

from __future__ import annotations

import time

import pytest

from evals.runner import THRESHOLD_OPT_OUT, THRESHOLD_OVERALL, format_report, load_corpus, run_suite

pytestmark = pytest.mark.django_db
TIME_LIMIT_S = 60


def test_scripted_agent_meets_the_eval_thresholds():
    """>= 95 % of caller turns right, opt-out precision and recall >= 0.98 (a missed opt-out risks
    fines, a false one loses a customer); the table and every miss are printed when it fails."""
    started = time.process_time()
    report = run_suite(provider="scripted")
    elapsed = time.process_time() - started  # CPU time: colleagues sharing the machine do not count

    table = format_report(report)
    assert len(report.results) >= 400, table
    assert report.pass_rate >= THRESHOLD_OVERALL, table
    assert report.opt_out_precision >= THRESHOLD_OPT_OUT, table
    assert report.opt_out_recall >= THRESHOLD_OPT_OUT, table
    assert elapsed < TIME_LIMIT_S, f"the eval suite took {elapsed:.0f} s of CPU"


def test_corpus_covers_every_category_with_enough_cases():
    cases = load_corpus()
    by_category: dict[str, int] = {}
    for case in cases:
        by_category[case.category] = by_category.get(case.category, 0) + 1
    opt_outs = sum(1 for c in cases for t in c.turns if t.expect.get("opt_out"))
    tricky = sum(1 for c in cases if c.category == "opt_out_negative")

    assert opt_outs >= 60 and tricky >= 60
    assert by_category["scenario"] >= 20
    assert {"callback_time", "question_vs_objection", "interest_refusal", "transfer", "voicemail", "no_action"} <= set(
        by_category
    )
