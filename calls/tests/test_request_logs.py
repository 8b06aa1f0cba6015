"""One request id from the proxy's header to the last log line of the work it caused.

A status webhook ends a call; with an LLM configured, the call's sentiment is refined by a
Celery task enqueued on commit. The webhook's log lines name the request and the call; the
task's JSON log line names the same request, so an operator greps one id across processes.
"""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from calls.models import CallSession
from core.log_context import LogContextFilter
from integrations.tests.fake_openai import Canned, completion

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs inside the request, as in production


@pytest.fixture
def json_log(caplog):
    """The log lines as production writes them: settings.LOGGING's JSON formatter and context filter."""
    caplog.set_level(logging.INFO)
    conf = dict(settings.LOGGING["formatters"]["json"])
    formatter = import_string(conf.pop("()"))(**conf)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(LogContextFilter())
    logging.getLogger().addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


def test_the_request_id_is_returned_and_a_generated_one_when_absent(client):
    request_id = str(uuid.uuid4())

    assert client.get("/health", HTTP_X_REQUEST_ID=request_id)["X-Request-ID"] == request_id
    generated = client.get("/health")["X-Request-ID"]
    assert len(generated) == 32 and generated != request_id.replace("-", "")


def test_a_request_id_that_is_not_a_uuid_is_replaced(client):
    response = client.get("/health", HTTP_X_REQUEST_ID='"}\n{"level": "CRITICAL", "forged": true')

    assert uuid.UUID(response["X-Request-ID"])


def test_the_request_id_reaches_the_task_the_webhook_enqueues(twilio_sim, fake_llm, json_log):
    fake_llm.respond(Canned(body=completion("Hello!")), Canned(body=completion("Great to hear.")))
    twilio_sim.incoming()
    twilio_sim.say("This sounds great, I love it")
    fake_llm.respond(Canned(body=completion(json.dumps({"label": "positive", "score": 0.9}))))
    request_id = str(uuid.uuid4())
    twilio_sim.http.defaults["HTTP_X_REQUEST_ID"] = request_id

    response = twilio_sim.status("completed", seq=3)

    assert response.status_code == 204
    assert response["X-Request-ID"] == request_id
    assert CallSession.objects.get().sentiment_analysis["analyzer"] == "llm"
    task_lines = [line for line in json_log() if line["logger"] == "calls.tasks"]
    assert [line["message"] for line in task_lines] == [
        f"Sentiment of call {CallSession.objects.get().pk} refined by the LLM"
    ]
    assert task_lines[0]["request_id"] == request_id
    assert task_lines[0]["call_sid"] == twilio_sim.call_sid
    assert {"time", "level"} <= set(task_lines[0])
