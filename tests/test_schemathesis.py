"""Schemathesis against the live schema and a live server, as a buyer:
no 5xx, and every response conforms to the schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import World
from tests.factories import token_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.django_db(transaction=True)
def test_every_endpoint_conforms_to_the_live_schema(live_server: Any, world: World) -> None:
    headers = {"Authorization": f"Token {token_for(world.buyer.user)}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    failures: dict[str, str] = {}
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), "the schema has invalid operations"
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as error:  # report every operation at once
            failures[operation.label] = str(error)[:2000]
    for label, text in failures.items():
        print(f"=== {label}\n{text}")
    assert failures == {}
