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


def test_the_same_suite_runs_against_a_configured_llm_with_pass_rates_over_runs(fake_llm):
    """--provider openai: every turn is the LLM's (through the real SDK); a repeated run reports
    each turn's pass rate, here one run right and one wrong."""
    from integrations.tests.fake_openai import Canned, completion, tool_call

    # An opt-out the model misses is honoured by the product anyway (calls.actions), so the wrong
    # run here is the other legal direction: the model opts out a caller who did not ask.
    case = next(c for c in load_corpus() if c.name == "i didnt ask to be removed")
    greeting = Canned(body=completion("Hi, this is Sarah from Sunrise Solar. Do you have a minute?"))
    fake_llm.respond(
        greeting,
        Canned(body=completion("Understood, you stay on our list. May I tell you about our panels?")),
        greeting,
        Canned(body=completion("Of course, I've removed you.", tool_calls=[tool_call("mark_do_not_call", {})])),
    )

    report = run_suite(cases=[case], provider="openai", repeat=2)

    assert fake_llm.request_count == 4
    assert [r.passed for r in report.results] == [True, False]
    assert (report.opt_out_precision, report.opt_out_recall) == (0.0, 1.0)
    assert "50%  [opt_out_negative] i didnt ask to be removed #1" in format_report(report)
