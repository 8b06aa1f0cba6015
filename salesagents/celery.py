"""The Celery app: Redis in production; a filesystem broker (no server) on embedded defaults.

The broker comes from settings: ``CELERY_BROKER_URL``, else ``REDIS_URL``, else
``filesystem://`` with its folders under ``var/broker`` (``filesystem:///some/dir`` puts them
in ``/some/dir``; see docs/adr/0003-broker-default.md).
Beat uses django-celery-beat's database scheduler; the periodic tasks are rows made by
``manage.py setup_periodic_tasks``. Run a worker with embedded beat (what ``make run`` does)::

    celery -A salesagents worker -B --loglevel=INFO

Tasks are acknowledged late and rejected back to the queue when their worker is lost, so a
message is never dropped by a crash; every task is idempotent, so a redelivery is harmless.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesagents.settings")

app = Celery("salesagents")
app.config_from_object("django.conf:settings", namespace="CELERY")


FILESYSTEM_SCHEME = "filesystem://"


def uses_filesystem_broker() -> bool:
    from django.conf import settings

    return str(settings.CELERY_BROKER_URL).startswith(FILESYSTEM_SCHEME)


def filesystem_broker_folder(url: str, default: Path) -> Path:
    """``filesystem://`` uses ``default``; ``filesystem:///abs/dir`` uses that directory."""
    path = url[len(FILESYSTEM_SCHEME) :]
    return Path(path) if path.startswith("/") else Path(default)


def filesystem_transport_options(folder) -> dict:
    """Where the filesystem broker keeps its messages: one folder every process shares."""
    for sub in ("in", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        # Producer and consumer share one folder: what the web process writes, the worker reads.
        "data_folder_in": str(folder / "in"),
        "data_folder_out": str(folder / "in"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        # Exchange bindings (remote control, broadcast); kombu's default is ./control in the cwd.
        "control_folder": str(folder / "control"),
    }


def _configure_broker() -> None:
    from django.conf import settings

    if uses_filesystem_broker():
        folder = filesystem_broker_folder(str(settings.CELERY_BROKER_URL), settings.CELERY_BROKER_DIR)
        app.conf.broker_transport_options = filesystem_transport_options(folder)


_configure_broker()
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_cancel_long_running_tasks_on_connection_loss=True,
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,  # results are logged, never read back
    timezone="UTC",
    broker_connection_retry_on_startup=True,
    # A wedged task must not hold a worker forever (a placement is seconds, a learning run less).
    task_soft_time_limit=240,
    task_time_limit=300,
)
app.autodiscover_tasks()


@setup_logging.connect
def _log_like_the_web_processes(**kwargs) -> None:
    """Worker and beat log through settings.LOGGING (JSON in production, with the request id)
    instead of Celery's own format; connecting this signal is what stops Celery configuring its own."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


# The request id and call sid travel with each task (django-guid's own Celery integration would
# also do this, but it replaces and then clears the id when a task runs eagerly inside a request).
@before_task_publish.connect
def _hand_over_log_context(headers: dict, **kwargs) -> None:
    from core.log_context import log_context_headers

    headers.update(log_context_headers())


@task_prerun.connect
def _adopt_log_context(task, **kwargs) -> None:
    if task.request.is_eager:
        return  # runs inline, in the caller's context: its ids are already set
    from core.log_context import log_context_adopt

    log_context_adopt(task.request.get)


@task_postrun.connect
def _forget_log_context(task, **kwargs) -> None:
    if task.request.is_eager:
        return
    from core.log_context import log_context_forget

    log_context_forget()
