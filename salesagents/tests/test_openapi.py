"""The OpenAPI document: it builds without warnings, validates, is served, and is committed.

docs/openapi.yaml is what frontend developers and client generators read without running the
app, so it must be exactly what the code serves. Regenerate it with `make schema`.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.validation import validate_schema

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def _generate() -> tuple[dict, list[str]]:
    """The schema as `manage.py spectacular` builds it, and the warnings and errors it raised."""
    GENERATOR_STATS.reset()  # the counters are per process; count only this build's
    schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, problems


@pytest.fixture(scope="module")
def generated():
    return _generate()


def test_schema_builds_without_warnings(generated):
    _, problems = generated
    assert not problems, "drf-spectacular warned while building the schema:\n" + "\n".join(problems)


def test_schema_is_valid_openapi(generated):
    schema, _ = generated
    validate_schema(schema)


def test_committed_schema_is_up_to_date(generated):
    schema, _ = generated
    current = OpenApiYamlRenderer().render(schema, renderer_context={}).decode()
    committed = COMMITTED.read_text() if COMMITTED.exists() else ""
    if committed != current:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    current.splitlines(keepends=True),
                    "docs/openapi.yaml (committed)",
                    "generated from the code",
                    n=2,
                )
            )[:60]
        )
        pytest.fail(f"docs/openapi.yaml is out of date with the code: run `make schema` and commit it.\n{diff}")


def test_schema_generation_is_deterministic(generated):
    schema, _ = generated
    again, _ = _generate()
    render = OpenApiYamlRenderer().render
    assert render(again, renderer_context={}) == render(schema, renderer_context={})


@pytest.mark.django_db
def test_schema_and_swagger_ui_are_served(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    served = yaml.safe_load(schema.content)
    assert served["info"]["title"] == "SalesAgents API"
    assert "/api/agents/ai/setup/" in served["paths"]
    assert "knoxApiToken" in served["components"]["securitySchemes"]
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_every_operation_documents_its_errors_with_the_shared_shape(generated):
    schema, _ = generated
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith(("4", "5"))}
            shared = [
                r
                for r in errors.values()
                if r.get("content", {})
                .get("application/json", {})
                .get("schema", {})
                .get("$ref", "")
                .endswith("/ErrorResponse")
            ]
            if not errors or len(shared) != len(errors):
                missing.append(f"{method.upper()} {path}")
    assert not missing, "These operations document no errors, or errors not in the shared shape: " + ", ".join(missing)
