"""JOINTSAT_DASK_SCHEDULER: the service predicts passes on that Dask cluster.

The answers must be those of a service predicting in its own process; the blocks must
have run on the cluster's workers; a scheduler that cannot be reached stops
``jointsat serve`` at start with one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from distributed import Client
from tests.support.consortium import Consortium
from tests.support.server import free_port
from typer.testing import CliRunner

from jointsat import executors
from jointsat.cli import app
from jointsat.executors import dask_client
from jointsat.files import read_demo_elements, read_demo_stations
from jointsat.settings import DASK_SCHEDULER_VARIABLE, Settings
from jointsat.store import passes as stored
from jointsat.store.tables import Role

START = datetime(2024, 5, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Client]:
    with dask_client("local", 2) as client:
        client.wait_for_workers(2, timeout=60)
        yield client


def blocks_run(client: Client) -> int:
    """Return how many blocks (``BlockJob.run`` tasks) the cluster's scheduler has seen."""

    def count(dask_scheduler: object) -> int:
        prefix = dask_scheduler.task_prefixes.get("run")  # type: ignore[attr-defined]
        return 0 if prefix is None else sum(prefix.state_counts.values())

    return int(client.run_on_scheduler(count))


def test_the_service_predicts_on_the_cluster_as_it_would_alone(
    consortium: Consortium, cluster: Client
) -> None:
    elements = read_demo_elements().elements
    with consortium.session() as session:
        consortium.add_admin(session)
        esa = consortium.add_partner(session, "esa", 1.0, name="ESA", agreement={})
        for s in read_demo_stations()[:6]:
            consortium.add_station(session, s.name, esa, s.lat_deg, s.lon_deg, alt_m=s.alt_m)
        by_norad = {e.norad_cat_id: e for e in elements}
        for e in by_norad.values():
            consortium.add_satellite(session, e.object_name, e.norad_cat_id, {esa: 1.0}, [e])
        consortium.add_user(session, "viewer", Role.VIEWER, esa)
    window = {"start": START.isoformat(), "end": (START + timedelta(days=1)).isoformat()}
    headers = consortium.headers("viewer")
    before = blocks_run(cluster)
    with consortium.serve(dask_scheduler=cluster.scheduler.address) as on_cluster:
        assert on_cluster.app.state.pass_executor is not None  # type: ignore[attr-defined]
        answer = on_cluster.get("/api/v1/passes", params=window, headers=headers)
        assert answer.status_code == 200, answer.text
    assert blocks_run(cluster) > before
    assert len(answer.json()) > 100
    with consortium.session() as session:
        stored.forget_predictions(session)
        session.commit()
    with consortium.serve() as alone:
        assert alone.app.state.pass_executor is None  # type: ignore[attr-defined]
        again = alone.get("/api/v1/passes", params=window, headers=headers)
    assert again.json() == answer.json()


def test_the_scheduler_is_read_from_the_environment() -> None:
    url = "sqlite:///unused.db"
    found = Settings.from_environment(
        {DASK_SCHEDULER_VARIABLE: " tcp://10.0.0.1:8786 "}, database_url=url
    )
    assert found.dask_scheduler == "tcp://10.0.0.1:8786"
    assert Settings.from_environment({}, database_url=url).dask_scheduler is None


def test_serve_stops_in_one_line_when_the_scheduler_is_unreachable(
    tmp_path: Path,
    new_sqlite_store: Callable[[Path], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        app,
        ["serve", "--database-url", new_sqlite_store(tmp_path), "--port", str(free_port())],
        env={DASK_SCHEDULER_VARIABLE: address},
    )
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"cannot reach the Dask scheduler at {address}" in lines[0]
