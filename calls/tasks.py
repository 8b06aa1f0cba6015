"""Celery tasks: thin wrappers that take ids, call a service, and retry what is transient.

Every task is idempotent, acknowledged late and enqueued with ``transaction.on_commit``; the
periodic ones are rows made by ``manage.py setup_periodic_tasks`` (ADR 0003 lists them). Each
task's docstring names its schedule; the per-call and per-agent ones are fanned out by a tick.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from smtplib import SMTPException

from celery import shared_task
from django.db import OperationalError, transaction

from callbacks.models import ScheduledCallback
from calls import dispatch, learning, reconcile, reports, sentiment
from integrations.llm.base import ProviderError

logger = logging.getLogger(__name__)

# A database blip (connection lost, lock timeout, SQLite busy) is worth retrying; the services
# are idempotent, so a retry after partial work is harmless.
RETRY = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
}
PLACE_RETRIES = 5
SENTIMENT_RETRIES = 4  # about half a minute of backoff; then the call keeps the lexicon's sentiment


def _backoff(retries: int) -> int:
    return min(2 ** (retries + 1), 120)


def _enqueue_place(callback: ScheduledCallback) -> None:
    transaction.on_commit(partial(callback_place_task.delay, str(callback.pk), callback.lease_expires_at.isoformat()))


@shared_task(name="calls.dispatch_due_callbacks", **RETRY)
def dispatch_due_callbacks() -> dict:
    """The 15-second beat tick: claim due callbacks and fan out one placement task per claim."""
    return dispatch.callbacks_dispatch_due(enqueue=_enqueue_place).as_dict()


@shared_task(bind=True, name="calls.place_callback", **{**RETRY, "max_retries": PLACE_RETRIES})
def callback_place_task(self, callback_id: str, lease: str) -> dict:
    """Place one claimed callback. ``lease`` is the claim's token; a stale one does nothing.

    Twilio's "try again later" is retried with backoff under the same claim (the token moves
    with it); on the last try the attempt is spent instead (see ``calls.dispatch``).
    """
    try:
        placement = dispatch.callback_place(
            callback_id=callback_id,
            lease=datetime.fromisoformat(lease),
            final_try=self.request.retries >= PLACE_RETRIES,
        )
    except dispatch.PlacementRetry as transient:
        raise self.retry(
            exc=transient.cause,
            countdown=_backoff(self.request.retries),
            args=(callback_id, transient.lease.isoformat()),
            kwargs={},
        ) from transient
    return placement.as_dict()


@shared_task(name="calls.reconcile_stale_calls", **RETRY)
def reconcile_stale_calls() -> dict:
    """The one-minute beat tick: close calls whose end was never reported (``calls.reconcile``)."""
    return reconcile.calls_reconcile_stale().as_dict()


@shared_task(name="calls.learn_outcomes", **RETRY)
def learn_outcomes() -> int:
    """The 10-minute beat tick: one learning task per agent (each folds only what is new)."""
    agent_ids = learning.agents_to_learn()
    for agent_id in agent_ids:
        transaction.on_commit(partial(agent_learn_outcomes_task.delay, agent_id))
    return len(agent_ids)


@shared_task(name="calls.learn_agent_outcomes", **RETRY)
def agent_learn_outcomes_task(agent_id: int) -> dict:
    return learning.agent_learn_new_outcomes(agent_id=agent_id).as_dict()


@shared_task(name="calls.send_daily_reports", **RETRY)
def send_daily_reports() -> int:
    """The 15-minute beat tick: a report task for each client whose 09:00 has come today."""
    agent_ids = reports.agents_due_for_report()
    for agent_id in agent_ids:
        transaction.on_commit(partial(daily_report_task.delay, agent_id))
    return len(agent_ids)


@shared_task(name="calls.send_daily_report", **{**RETRY, "autoretry_for": (OperationalError, SMTPException, OSError)})
def daily_report_task(agent_id: int) -> bool:
    return reports.daily_report_send(agent_id=agent_id)


@shared_task(
    name="calls.refine_sentiment",
    **{**RETRY, "autoretry_for": (OperationalError, ProviderError), "max_retries": SENTIMENT_RETRIES},
)
def call_sentiment_task(call_id: str) -> bool:
    """After a call closed: the LLM's sentiment replaces the lexicon's (retried while the model is unreachable)."""
    refined = sentiment.call_sentiment_refine(call_id=call_id)
    logger.info("Sentiment of call %s %s", call_id, "refined by the LLM" if refined else "left as it was")
    return refined
