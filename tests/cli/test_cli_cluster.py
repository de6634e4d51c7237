"""Pass prediction on Dask: a local cluster, and a scheduler and workers run as a user runs them.

Whatever runs the blocks, the passes must be those one process finds, bit for bit in
every column, and a directory of Parquet partitions written by the workers must hold
the rows of the single-process Parquet file. Servers listen on 127.0.0.1 only and
serve no dashboard.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from distributed import Client
from tests.support.server import free_port
from typer.testing import CliRunner

import jointsat
from jointsat import executors
from jointsat.cli import app
from jointsat.cli import passes as cli_passes
from jointsat.executors import PartitionWriter, cluster_blocks, dask_client, run_block
from jointsat.files import (
    DEMO_ELEMENT_FILES,
    DEMO_STATIONS_FILE,
    bundled_file,
    parse_element_files,
    read_demo_elements,
    read_demo_stations,
)
from jointsat.orbits import passes as engine
from jointsat.orbits.passes import PASS_ARRAYS, Passes, find_passes, merge_blocks, plan_blocks
from jointsat.orbits.propagation import OrbitRecord
from jointsat.orbits.stations import Station
from jointsat.pass_output import ParquetPasses

START = datetime(2024, 5, 10, tzinfo=UTC)
END = START + timedelta(days=1)
DECAYING_3LE = """\
DECAYING
1 99999U 98067A   24130.36689744  .00016024  00000+0  27777-3 0  9997
2 99999  51.6381 147.8590 5003466 150.4670 338.5502 15.51043222452521
"""  # the ISS's elements with eccentricity 0.5: SGP4 fails, a problem to carry back
WORKERS_S = 60.0
Case = tuple[list[OrbitRecord], list[Station]]
SATELLITES_PER_BLOCK = 4


@pytest.fixture(scope="module")
def case() -> Case:
    demo = read_demo_elements()
    decaying = parse_element_files([("decaying.3le", DECAYING_3LE)])
    return [*demo.orbits, *decaying.orbits], list(read_demo_stations())


@pytest.fixture(scope="module")
def one_process(case: Case) -> Passes:
    return find_passes(*case, START, END, min_elevation_deg=5.0)


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[Client]:
    with dask_client("local", 2) as client:
        client.wait_for_workers(2, timeout=WORKERS_S)
        yield client


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; yield its address.

    They run this checkout's jointsat (PYTHONPATH), each worker one thread, no nanny.
    """
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(_python_path()))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": folder}
    started = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "distributed.cli.dask_scheduler"),
                *("--host", "127.0.0.1", "--port", "0"),
                *("--no-dashboard", "--dashboard-address", "127.0.0.1:0"),
                *("--scheduler-file", str(scheduler_file)),
            ],
            **quiet,  # type: ignore[call-overload]
        )
    ]
    try:
        deadline = time.monotonic() + WORKERS_S
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert started[0].poll() is None, "dask scheduler stopped"
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            started.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "distributed.cli.dask_worker", address),
                        *("--host", "127.0.0.1", "--nthreads", "1", "--no-nanny"),
                        "--no-dashboard",
                    ],
                    **quiet,  # type: ignore[call-overload]
                )
            )
        with Client(address, timeout=WORKERS_S) as client:
            client.wait_for_workers(2, timeout=WORKERS_S)
        yield address
    finally:
        for process in reversed(started):  # the workers, then the scheduler
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _python_path() -> list[str]:
    """Return the folders holding this checkout's jointsat and tests, for the workers."""
    src = Path(jointsat.__file__).resolve().parents[1]
    return [str(src), str(Path(__file__).resolve().parents[2])]


def assert_same_passes(got: Passes, expected: Passes) -> None:
    """Assert two predictions equal bit for bit: every column, satellite, problem, freshness."""
    assert len(expected) > 1000
    for name in PASS_ARRAYS:
        assert getattr(got, name).dtype == getattr(expected, name).dtype, name
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)
    assert got.satellites == expected.satellites
    assert got.stations == expected.stations
    assert got.problems == expected.problems
    assert expected.problems  # the decaying satellite's
    assert got.freshness == expected.freshness
    assert (got.start, got.end) == (expected.start, expected.end)


def rows(table: object) -> set[tuple[object, ...]]:
    """Return a Parquet table's rows as a set (partitions come in any order)."""
    columns = table.to_pydict()  # type: ignore[attr-defined]
    found = set(zip(*columns.values(), strict=True))
    assert len(found) == table.num_rows  # type: ignore[attr-defined]
    return found


def on_cluster(client: Client, case: Case) -> Passes:
    jobs = plan_blocks(
        *case, START, END, min_elevation_deg=5.0, satellites_per_block=SATELLITES_PER_BLOCK
    )
    assert len(jobs) > 2
    blocks = list(cluster_blocks(client, jobs, run_block))
    return merge_blocks(blocks, case[1], START, END)


def test_a_local_cluster_gives_the_passes_of_one_process(
    local_cluster: Client,
    case: Case,
    one_process: Passes,
) -> None:
    assert len(local_cluster.scheduler_info()["workers"]) == 2
    assert_same_passes(on_cluster(local_cluster, case), one_process)
    through_executor = find_passes(
        *case,
        START,
        END,
        min_elevation_deg=5.0,
        executor=local_cluster.get_executor(),
        satellites_per_block=SATELLITES_PER_BLOCK,
    )
    assert_same_passes(through_executor, one_process)


def test_workers_write_partitions_holding_the_rows_of_one_file(
    local_cluster: Client,
    case: Case,
    one_process: Passes,
    tmp_path: Path,
) -> None:
    jobs = plan_blocks(
        *case, START, END, min_elevation_deg=5.0, satellites_per_block=SATELLITES_PER_BLOCK
    )
    folder = tmp_path / "parts"
    written = list(cluster_blocks(local_cluster, jobs, PartitionWriter(str(folder))))
    files = sorted(p.name for p in folder.iterdir())
    assert files == [f"part-{i:05d}.parquet" for i in range(len(jobs))]  # no hidden leftovers
    assert sum(w.rows for w in written) == len(one_process)
    summary = merge_blocks([w.block for w in written], case[1], START, END)
    assert len(summary) == 0
    assert summary.freshness == one_process.freshness
    assert summary.problems == one_process.problems
    with ParquetPasses(tmp_path / "one.parquet") as single:
        single.write(one_process)
    assert rows(pq.read_table(folder)) == rows(pq.read_table(tmp_path / "one.parquet"))


def test_a_scheduler_and_workers_of_their_own_give_the_passes_of_one_process(
    scheduler: str,
    case: Case,
    one_process: Passes,
) -> None:
    with dask_client(scheduler, 1) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        assert_same_passes(on_cluster(client, case), one_process)
        workers = client.run(os.getpid)
    assert len(set(workers.values())) == 2
    assert os.getpid() not in workers.values()


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def cli_case(tmp_path: Path) -> list[str]:
    (tmp_path / "decaying.3le").write_text(DECAYING_3LE)
    (tmp_path / "stations.csv").write_text(bundled_file(DEMO_STATIONS_FILE).read_text())
    elements = [*map(bundled_file, DEMO_ELEMENT_FILES), tmp_path / "decaying.3le"]
    return [
        "passes",
        *(a for path in elements for a in ("-e", str(path))),
        *("-s", str(tmp_path / "stations.csv")),
        *("--start", "2024-05-10T00:00:00Z", "--days", "1", "--min-elevation", "5"),
    ]


@pytest.fixture
def cli_args(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Arguments of ``jointsat passes`` on the demo's satellites, planned in several blocks."""
    # Blocks of a few satellites, so that several workers write several partitions.
    monkeypatch.setattr(engine, "BLOCK_SATELLITE_STATION_DAYS", 100.0)
    return cli_case(tmp_path)


def test_passes_on_a_running_cluster_through_the_command_line(
    scheduler: str, cli_args: list[str], tmp_path: Path
) -> None:
    alone = invoke(*cli_args, "--format", "csv", "--workers", "1")
    assert alone.exit_code == 0, alone.output  # type: ignore[attr-defined]
    clustered = invoke(*cli_args, "--format", "csv", "--cluster", scheduler)
    assert clustered.exit_code == 0, clustered.output  # type: ignore[attr-defined]
    assert clustered.stdout == alone.stdout  # type: ignore[attr-defined]
    assert alone.stdout.count("\n") > 1000  # type: ignore[attr-defined]
    assert clustered.stderr == alone.stderr  # type: ignore[attr-defined]
    assert "SGP4 error" in clustered.stderr  # type: ignore[attr-defined]

    single = invoke(
        *cli_args, "-f", "parquet", "-o", str(tmp_path / "one.parquet"), "--workers", "1"
    )
    assert single.exit_code == 0, single.output  # type: ignore[attr-defined]
    parts = tmp_path / "parts"
    written = invoke(*cli_args, "-f", "parquet", "-o", str(parts), "--cluster", scheduler)
    assert written.exit_code == 0, written.output  # type: ignore[attr-defined]
    assert len(list(parts.glob("part-*.parquet"))) > 2
    assert rows(pq.read_table(parts)) == rows(pq.read_table(tmp_path / "one.parquet"))
    assert "SGP4 error" in written.stderr  # type: ignore[attr-defined]

    again = invoke(*cli_args, "-f", "parquet", "-o", str(parts), "--cluster", scheduler)
    assert again.exit_code == 1
    assert "is not empty" in again.stderr  # type: ignore[attr-defined]


def test_workers_make_a_local_cluster(cli_args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str | None, int]] = []

    @contextmanager
    def recorded(cluster: str | None, workers: int) -> Iterator[Client]:
        started.append((cluster, workers))
        with dask_client(cluster, workers) as client:
            yield client

    monkeypatch.setattr(cli_passes, "dask_client", recorded)
    alone = invoke(*cli_args, "--format", "csv", "--workers", "1")
    assert alone.exit_code == 0, alone.output  # type: ignore[attr-defined]
    assert started == []
    local = invoke(*cli_args, "--format", "csv", "--workers", "2")
    assert local.exit_code == 0, local.output  # type: ignore[attr-defined]
    assert started == [(None, 2)]
    assert local.stdout == alone.stdout  # type: ignore[attr-defined]
    assert local.stderr == alone.stderr  # type: ignore[attr-defined]


def test_big_predictions_start_a_local_cluster_by_default(
    cli_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[str | None, int]] = []

    class StartedError(Exception):
        pass

    def recorded(cluster: str | None, workers: int) -> Iterator[Client]:
        started.append((cluster, workers))
        raise StartedError

    monkeypatch.setattr(cli_passes, "dask_client", recorded)
    result = invoke(*cli_args, "--format", "csv")
    case = read_demo_elements().orbits, read_demo_stations()
    blocks = len(plan_blocks(*case, START, END))  # the demo's 28 satellites, 4 a block
    assert blocks >= executors.PARALLEL_FROM_BLOCKS
    if (os.cpu_count() or 1) > 1:
        assert isinstance(result.exception, StartedError)  # type: ignore[attr-defined]
        assert started == [(None, min(os.cpu_count() or 1, 8, blocks))]
    else:
        assert result.exit_code == 0  # type: ignore[attr-defined]
        assert started == []


def test_an_unreachable_scheduler_is_one_line(
    cli_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    result = invoke(*cli_args, "--format", "csv", "--cluster", address)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1
    assert f"cannot reach the Dask scheduler at {address}" in lines[0]


def test_a_running_cluster_has_its_own_workers(cli_args: list[str]) -> None:
    result = invoke(*cli_args, "--cluster", "tcp://127.0.0.1:8786", "--workers", "2")
    assert result.exit_code == 2
    assert "has its own workers" in result.stderr  # type: ignore[attr-defined]


def test_small_predictions_run_in_this_process_without_dask(tmp_path: Path) -> None:
    """The benchmarked whole process (100 LEO x 10 stations x 7 days) starts no cluster."""
    demo = [e for e in read_demo_elements().elements]
    hundred = [dataclasses.replace(demo[i % len(demo)], norad_cat_id=90000 + i) for i in range(100)]
    blocks = plan_blocks(hundred, read_demo_stations()[:10], START, START + timedelta(days=7))
    assert executors.default_workers(len(blocks)) == 1
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from jointsat.cli import app\n"
        f"result = CliRunner().invoke(app, {[*cli_case(tmp_path), '-f', 'csv']!r})\n"
        "assert result.exit_code == 0, result.output\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(_python_path()))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)


DESIGN = [
    *("--aoi", "band:-45:45", "--start", "2026-12-01T00:00:00Z", "--days", "0.25"),
    *("--grid-deg", "8", "--min-elevation", "10"),
]


def test_a_coverage_study_on_a_running_cluster_is_the_study_of_one_process(
    scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jointsat.design import study

    monkeypatch.setattr(study, "CHUNK_POINTS", 100)  # several chunks: several tasks
    common = ["design", "coverage", "-c", "walker:6/3/1:550:53", *DESIGN]
    alone = invoke(*common, "-o", str(tmp_path / "alone.csv"))
    assert alone.exit_code == 0, alone.output  # type: ignore[attr-defined]
    clustered = invoke(*common, "-o", str(tmp_path / "clustered.csv"), "--cluster", scheduler)
    assert clustered.exit_code == 0, clustered.output  # type: ignore[attr-defined]
    table = (tmp_path / "alone.csv").read_text()
    assert table.count("\n") > 300
    assert (tmp_path / "clustered.csv").read_text() == table


def test_a_sweep_on_a_running_cluster_is_the_sweep_of_one_process(scheduler: str) -> None:
    common = ["design", "sweep", *DESIGN, "--total", "4,6", "--planes", "2", "--phasing", "1"]
    alone = invoke(*common)
    assert alone.exit_code == 0, alone.output  # type: ignore[attr-defined]
    clustered = invoke(*common, "--cluster", scheduler)
    assert clustered.exit_code == 0, clustered.output  # type: ignore[attr-defined]
    assert clustered.stdout == alone.stdout  # type: ignore[attr-defined]
    assert alone.stdout.count("\n") == 3  # type: ignore[attr-defined]


def test_ndvi_on_a_running_cluster_is_the_ndvi_of_one_process(
    scheduler: str, tmp_path: Path
) -> None:
    from jointsat.analysis.venus_like import build_date, load_demo_tile, seeded_season
    from jointsat.demo_analysis import field_of_the_window

    products = [str(build_date(tmp_path, d)) for d in seeded_season(load_demo_tile(), 3, seed=5)]
    aoi = tmp_path / "field.json"
    aoi.write_text(json.dumps(field_of_the_window()))
    common = ["analyse", "ndvi", *products, "--aoi", str(aoi)]
    alone = invoke(*common)
    assert alone.exit_code == 0, alone.output  # type: ignore[attr-defined]
    clustered = invoke(*common, "--cluster", scheduler)
    assert clustered.exit_code == 0, clustered.output  # type: ignore[attr-defined]
    assert clustered.stdout == alone.stdout  # type: ignore[attr-defined]
    assert alone.stdout.count("\n") == 4  # type: ignore[attr-defined]
