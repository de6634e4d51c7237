"""Fuzz the live OpenAPI with schemathesis: no 5xx for any input, answers as documented.

``test_api_answers_as_documented`` fuzzes each operation in process;
``test_whole_api_with_every_check_and_the_stateful_phase`` runs schemathesis itself
(coverage, fuzzing and stateful phases, every check) against a served app, bounded in
time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from tests.support.consortium import Consortium
from tests.support.data import orbit_file
from tests.support.server import free_port

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


# Rules a JSON schema cannot state (an end after its start, a window's span, a box's
# longitudes within range, a time within the years 1 to 9999 once in UTC) refuse some
# schema-valid inputs: a 400 or 422 naming the rule is the documented answer then.
SCHEMATHESIS_CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "413", "415", "422"]
"""
RUN_SECONDS = 45


@pytest.mark.slow
def test_whole_api_with_every_check_and_the_stateful_phase(
    tmp_path: Path, new_sqlite_store: Callable[[Path], str]
) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis' command 'st' is not installed"
    made = Consortium(new_sqlite_store(tmp_path / "store"), now=NOW)
    iss = parse_elements(orbit_file("tle-CATNR-25544.txt").read_text()).elements[0]
    with made.session() as session:
        admin = made.add_admin(session)
        esa = made.add_partner(session, "esa", 1.0, name="ESA", agreement={})
        made.add_station(session, "Kiruna", esa, 67.86, 20.96)
        made.add_satellite(session, "ISS", 25544, {esa: 1.0}, [iss])
    settings = Settings(database_url=made.url, archive_root=tmp_path / "archive")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        config = tmp_path / "schemathesis.toml"
        config.write_text(SCHEMATHESIS_CONFIG)
        run = subprocess.run(
            [
                st,
                "--config-file",
                str(config),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--header",
                f"Authorization: Bearer {admin}",
                "--phases",
                "coverage,fuzzing,stateful",
                "--checks",
                "all",
                "--max-examples",
                "10",
                "--max-time",
                str(RUN_SECONDS),
                "--suppress-health-check",
                "all",
                "--seed",
                "14",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS * 3,
            check=False,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        made.close()
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert "Stateful" in run.stdout
