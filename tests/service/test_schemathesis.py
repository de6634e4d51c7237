"""Fuzz the live OpenAPI with schemathesis: no 5xx for any input, answers as documented."""

from __future__ import annotations

from collections.abc import Iterator
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
from tests.support.data import orbit_file

from jointsat.orbits.elements import parse_elements
from jointsat.service.app import create_app
from jointsat.service.tokens import initialise, issue_token
from jointsat.settings import Settings
from jointsat.store import migrate
from jointsat.store.database import open_engine, session_factory
from jointsat.store.tables import (
    Agreement,
    ElementSetRecord,
    GroundStation,
    Partner,
    Role,
    Satellite,
    SatelliteOperator,
    User,
)

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
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Load the OpenAPI of an app over a small store (a partner, a station, the ISS)."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'store.db'}"
    migrate.upgrade(url)
    engine = open_engine(url)
    iss = parse_elements(orbit_file("tle-CATNR-25544.txt").read_text()).elements[0]
    with session_factory(engine).begin() as session:
        TOKENS["admin"] = initialise(session, name="admin", now=NOW)
        esa = Partner(code="esa", name="ESA", contribution_share=1.0)
        session.add(Agreement(partner=esa))
        session.add(GroundStation(name="Kiruna", owner=esa, lat_deg=67.86, lon_deg=20.96))
        satellite = Satellite(name="ISS", norad_id=25544)
        satellite.operators = [SatelliteOperator(partner=esa, fraction=1.0)]
        satellite.element_sets = [
            ElementSetRecord(epoch=iss.epoch, omm=iss.to_omm(), source="test", received_at=NOW)
        ]
        session.add(satellite)
        operator = User(name="esa-ops", role=Role.OPERATOR, partner=esa, created_at=NOW)
        session.add(operator)
        TOKENS["operator"] = issue_token(session, operator, now=NOW)
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings(database_url=url)))
    engine.dispose()


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
