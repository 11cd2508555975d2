"""The OpenAPI document is a valid OpenAPI 3 document, served as built,
and true: requests generated from it (schemathesis, a bounded number per
operation) never get a server error, every answer has a documented
status, content type, headers and body, and bodies that break the
schema are refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode

from engine.api import ApiConfig, openapi_document
from tests.engine.api.conftest import MAX_TIME_LIMIT_S, Server

if TYPE_CHECKING:
    from schemathesis import BaseSchema, Case

EXAMPLES = 20
"""Generated requests per operation: with nine operations and searches
capped at the server's time limit, the run stays well under a minute."""


def test_document_is_valid_openapi() -> None:
    """openapi-spec-validator accepts the document, which names every
    route of the service."""
    document = openapi_document(ApiConfig())
    validate(document)
    assert set(document["paths"]) == {
        "/api/optimize",
        "/api/jobs/{job_id}",
        "/api/orders/{order_id}/eta",
        "/api/drivers/{driver_id}/location",
        "/api/advice/assignment",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    }


@pytest.mark.timeout(120)
def test_served_document_follows_the_configuration(server: Server) -> None:
    """/openapi.json is the document of the server's configuration: its
    time limit bound is the one the server was started with."""
    served = httpx.get(f"{server.base_url}/openapi.json").json()
    validate(served)
    options = served["components"]["schemas"]["Options"]["properties"]
    assert options["time_limit"]["maximum"] == MAX_TIME_LIMIT_S


OPERATIONS = [
    ("POST", "/api/optimize"),
    ("GET", "/api/jobs/{job_id}"),
    ("GET", "/api/orders/{order_id}/eta"),
    ("POST", "/api/drivers/{driver_id}/location"),
    ("POST", "/api/advice/assignment"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
]


@pytest.fixture(scope="module")
def api_schema(server: Server) -> BaseSchema:
    """The served document, loaded by schemathesis against the server."""
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    schema.config.update(base_url=server.base_url)
    # A request valid by its schema may still break a rule across fields
    # (an order naming a location the request lacks): 422 is the true
    # answer then, so positive data need not be accepted.
    schema.config.checks.positive_data_acceptance.enabled = False
    return schema


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_generated_requests_get_no_server_error(
    api_schema: BaseSchema, method: str, path: str
) -> None:
    """Every request schemathesis generates for an operation is answered
    without a 5xx, with a status, content type, headers and body that
    the document lists."""

    @given(case=api_schema[path][method].as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case) -> None:
        case.call_and_validate()

    check()


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("method", "path"),
    [operation for operation in OPERATIONS if operation[0] == "POST"],
)
def test_bodies_against_the_schema_are_refused(
    api_schema: BaseSchema, method: str, path: str
) -> None:
    """Every body that schemathesis makes to break the schema is answered
    with a 4xx, never accepted: the schema is no looser than the
    service."""
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case) -> None:
        case.call_and_validate()

    check()
