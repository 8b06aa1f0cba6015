"""The floor of a durable turn, and the query counter the bench reads from every response.

The floor is the least any webhook turn can do and still be correct and durable: check
``X-Twilio-Signature`` against ``PUBLIC_BASE_URL`` + the path (the same ``signature_is_valid``,
over ``RequestValidator``, that the real webhooks use), write one row in its own transaction
(one INSERT in autocommit mode: PostgreSQL commits it and flushes its WAL, with no BEGIN/COMMIT
round trips), and answer fixed TwiML. It looks nothing up: the token is the simulated phone's,
from settings, which is also the token the real webhook ends up with for the bench's client (it
has no Twilio subaccount). It runs in the same Django processes, behind the same middleware, as
the real webhooks.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection, connections
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.twilio import signature_is_valid

FLOOR_TABLE = "bench_floor_turn"
# One row per caller utterance, keyed like CallTurn (call, sequence): the insert checks a
# unique index as the real one does.
FLOOR_DDL = f"""
CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (
    id bigserial PRIMARY KEY,
    call_sid varchar(64) NOT NULL,
    n integer NOT NULL,
    speech text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_sid, n)
)
"""
# The same shape and size as a real turn's answer: <Say> inside a speech <Gather>, then <Redirect>.
FLOOR_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Gather action="http://bench.local/bench/floor/next/" input="speech" language="en-US" method="POST" '
    'speechTimeout="auto" timeout="5"><Say language="en-US" voice="Polly.Joanna-Neural">Got it. With zero down, '
    "most homeowners pay less each month than their old bill. Does that help?</Say></Gather>"
    '<Redirect method="POST">http://bench.local/bench/floor/next/</Redirect></Response>'
)
TWIML = "text/xml; charset=utf-8"


@csrf_exempt
@require_POST
def floor(request: HttpRequest, agent_id) -> HttpResponse:
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    if not signature_is_valid(
        auth_token=settings.SIMULATED_PHONE_AUTH_TOKEN,
        url=url,
        params=request.POST,
        signature=request.headers.get("X-Twilio-Signature"),
    ):
        return HttpResponse("Invalid Twilio signature.", status=403, content_type="text/plain")
    try:
        n = int(request.GET.get("n", "0"))
    except ValueError:
        n = 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FLOOR_TABLE} (call_sid, n, speech) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            [(request.POST.get("CallSid") or "")[:64], n, request.POST.get("SpeechResult") or ""],
        )
    return HttpResponse(FLOOR_TWIML, content_type=TWIML)


class QueryCountMiddleware:
    """Adds ``X-Bench-Queries`` (SQL statements Django sent, savepoints included; not the
    BEGIN/COMMIT the driver sends itself) and ``X-Bench-Server-Us`` (time spent inside Django)
    to every response. Installed by bench/bench_settings.py only."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        count = [0]

        def counted(execute, sql, params, many, context):
            count[0] += 1
            return execute(sql, params, many, context)

        started = time.perf_counter()
        with connections["default"].execute_wrapper(counted):
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(count[0])
        response["X-Bench-Server-Us"] = str(int((time.perf_counter() - started) * 1_000_000))
        return response
