"""Check the SPOT5 reader, checker and solver against CNES's published instances."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from benchmarks.common import SHARED
from typer.testing import CliRunner

from jointsat.cli import app
from jointsat.planning import spot5

FOLDER = SHARED / "spot5"
BEST = {r["file"]: r for r in csv.DictReader((FOLDER / "best_known.csv").open(newline=""))}


def _read(name: str) -> spot5.Spot5:
    return spot5.read_spot5((FOLDER / name).read_text(), source=name)


@pytest.mark.parametrize("name", sorted(BEST))
def test_every_file_reads_as_its_published_size(name: str) -> None:
    instance = _read(name)
    multi = BEST[name]["multi_orbit"] == "yes"
    assert len(instance.photos) == int(BEST[name]["photos"])
    # The published count of multi-orbit files includes the recorder's capacity line.
    assert len(instance.constraints) == int(BEST[name]["constraints"]) - multi
    assert (instance.capacity_units is not None) == multi


def test_the_checker_rejects_hand_made_invalid_answers() -> None:
    instance = _read("8.spot")
    assert spot5.check(instance, {}) == []
    pair = next(c for c in instance.constraints if len(c.photos) == 2)
    bad = dict(zip(pair.photos, next(iter(pair.forbidden)), strict=True))
    assert any("may not take values" in p for p in spot5.check(instance, bad))
    photo = instance.photos[0]
    impossible = next(v for v in (1, 2, 3, 13, 7) if v not in photo.values)
    assert any("cannot take value" in p for p in spot5.check(instance, {photo.id: impossible}))
    assert any("not in the instance" in p for p in spot5.check(instance, {9999: 1}))
    multi = _read("1502.spot")
    greedy: dict[int, int] = {}
    for p in multi.photos:  # every photo, ignoring constraints: far over the recorder
        greedy[p.id] = p.values[0]
    assert any("recorder holds 200" in p for p in spot5.check(multi, greedy))


@pytest.mark.parametrize(
    "name", ["8.spot", "54.spot", "29.spot", "404.spot", "503.spot", "1502.spot"]
)
def test_small_instances_reach_their_proven_optima(name: str) -> None:
    instance = _read(name)
    found = spot5.solve(instance, time_limit_s=20, workers=2)
    assert found.optimal
    assert found.value == int(BEST[name]["best_known_value"])
    assert spot5.check(instance, found.answer) == []
    assert spot5.gain(instance, found.answer) == found.value


def test_bad_files_name_the_line() -> None:
    with pytest.raises(spot5.Spot5Error, match=r"bad\.spot line 2"):
        spot5.read_spot5("2\n0 1 x 1 0\n", source="bad.spot")
    with pytest.raises(spot5.Spot5Error, match="ends too early"):
        spot5.read_spot5("3\n0 1 1 1 0\n", source="bad.spot")


def test_bench_spot5_prints_each_instance_and_writes_checked_answers(tmp_path: Path) -> None:
    folder = tmp_path / "spot5"
    folder.mkdir()
    for name in ("8.spot", "54.spot"):
        shutil.copy(FOLDER / name, folder / name)
    shutil.copy(FOLDER / "best_known.csv", folder / "best_known.csv")
    out = tmp_path / "answers"
    result = CliRunner().invoke(
        app, ["bench", "spot5", str(folder), "--time-limit", "5", "--solutions", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in ("8.spot", "54.spot"):
        row = next(line for line in result.output.splitlines() if name in line)
        assert BEST[name]["best_known_value"] in row
        assert "accepts" in row
        lines = (out / f"{name}.sol").read_text().split("\n")
        answer = {int(a): int(b) for a, b in (line.split() for line in lines if line)}
        instance = _read(name)
        assert spot5.check(instance, answer) == []
        assert spot5.gain(instance, answer) == int(BEST[name]["best_known_value"])
