"""Property-based API testing: the API does what its OpenAPI document says, and only that.

The schema is loaded from the running app (/api/schema/), so the test follows every endpoint
anyone adds. Requests go in-process to the WSGI app, signed in with a client user's token
whose client has a trained agent with customers, calls and callbacks, so the list and detail
endpoints have rows to render. Positive and negative (schema-violating) cases are generated and
every schemathesis check runs: no 5xx, only documented status codes, content types and response
bodies, schema-valid input accepted, schema-violating input refused with a 4xx, 405 with Allow.

One allowance, the API's rule (docs/adr/0009-api-matches-its-schema.md): a schema-valid request
may be refused with 422 by a rule JSON Schema cannot state (an unknown timezone, a phone number
not in service, a date range that ends before it starts), never with 400.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from knox.models import AuthToken

MAX_EXAMPLES = 12  # random examples per operation, on top of the coverage phase's edge cases
CONFIG = schemathesis.Config.from_dict(
    {
        # A fixed seed: CI explores the same cases every run, so a failure is a regression, not luck.
        "seed": 20260101,
        # The coverage phase also tries methods an operation does not have; two of them show the
        # 405 path without spending half the run on it.
        "phases": {"coverage": {"unexpected-methods": ["delete", "put"]}},
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"],
            },
        },
    }
)


@pytest.fixture
def _requests_keep_the_test_transaction(db):
    # Django's test client stops requests from closing the test's database connection; going
    # through the raw WSGI app we have to do the same, or on PostgreSQL the first request ends
    # the test's transaction. (With ``db`` the writes roll back after each operation, and
    # on_commit hooks such as Celery enqueues do not run: this test is about the HTTP layer.)
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def token_header(user_a, agent_a):
    """A client user's token; their client has a trained agent with a little of everything."""
    from callbacks.tests.factories import CallbackFactory
    from calls.tests.factories import CallFactory, CallTurnFactory
    from customers.tests.factories import CustomerFactory

    customers = [CustomerFactory(ai_agent=agent_a) for _ in range(3)]
    for customer in customers:
        call = CallFactory(customer_profile=customer)
        CallTurnFactory(call=call, sequence=0)
        CallTurnFactory(call=call, sequence=1, speaker="customer", text="Call me tomorrow afternoon.")
    CallbackFactory(customer_profile=customers[0])
    return {"Authorization": f"Token {AuthToken.objects.create(user=user_a)[1]}"}


# Loaded when the module is collected (serving the schema touches no database). The lazy
# ``schemathesis.pytest.from_fixture`` loader would be nicer but does not run on pytest 9
# (it sets ``Node._nodeid``, which pytest 9 no longer has).
schema = (
    schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)
    .exclude(path_regex=r"^/webhooks/")
    .exclude(path="/api/auth/logout/")  # would revoke the token the other operations use
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,  # keep no example database in the source tree
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.usefixtures("_requests_keep_the_test_transaction")
def test_every_operation_keeps_to_its_schema(case, token_header):
    # Throttle counters live in the cache; thousands of generated requests from one user would
    # otherwise end in 429s and test nothing.
    cache.clear()
    response = case.call(headers=token_header)
    case.validate_response(response, headers=token_header)
