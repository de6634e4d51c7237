"""Fuzz the live OpenAPI with schemathesis: no 5xx for any input, answers as documented."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from tests.support.consortium import Consortium
from tests.support.data import orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.service.app import create_app
from jointsat.settings import Settings
from jointsat.store.tables import Role

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
TOKENS: dict[str, str] = {}
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, new_sqlite_store: Callable[[Path], str]
) -> Iterator[Any]:
    """Load the OpenAPI of an app over a small store (a partner, a station, the ISS)."""
    made = Consortium(new_sqlite_store(tmp_path_factory.mktemp("fuzz")), now=NOW)
    iss = parse_elements(orbit_file("tle-CATNR-25544.txt").read_text()).elements[0]
    with made.session() as session:
        TOKENS["admin"] = made.add_admin(session)
        esa = made.add_partner(session, "esa", 1.0, name="ESA", agreement={})
        made.add_station(session, "Kiruna", esa, 67.86, 20.96)
        made.add_satellite(session, "ISS", 25544, {esa: 1.0}, [iss])
        TOKENS["operator"] = made.add_user(session, "esa-ops", Role.OPERATOR, esa)
    yield schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(Settings(database_url=made.url))
    )
    made.close()


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
def test_api_answers_as_documented(api_schema: Any) -> None:
    operations = _operations(api_schema)
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: Any) -> None:
            for role in ("operator", "admin"):
                headers = {"Authorization": f"Bearer {TOKENS[role]}"}
                case.call_and_validate(headers=headers, checks=CHECKS)

        answers_as_documented()
