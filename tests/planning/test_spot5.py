"""Check the SPOT5 reader, checker and solver against CNES's published instances."""

from __future__ import annotations

import csv
import itertools
import random
import shutil
from pathlib import Path

import pytest
from tests.support.data import shared
from typer.testing import CliRunner

from jointsat import spot5
from jointsat.cli import app
from jointsat.spot5 import search as spot5_search

FOLDER = shared("spot5")
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


# The search (spot5_search): profiles per constraint-graph component, a knapsack over
# them, and CP-SAT steps over windows.


def _start(ix: spot5_search.Indexed) -> list[int]:
    return [spot5_search.REJECTED] * len(ix.values)


def _answer(instance: spot5.Spot5, ix: spot5_search.Indexed, choice: list[int]) -> dict[int, int]:
    return {
        p.id: ix.values[i][c]
        for i, (p, c) in enumerate(zip(instance.photos, choice, strict=True))
        if c != spot5_search.REJECTED
    }


@pytest.mark.parametrize("name", ["54.spot", "29.spot", "1504.spot"])
def test_components_split_the_photos_and_no_constraint_crosses_them(name: str) -> None:
    ix = spot5_search.Indexed.of(_read(name))
    parts = ix.components()
    owner = {i: k for k, part in enumerate(parts) for i in part}
    assert sorted(owner) == list(range(len(ix.values)))
    assert sum(len(part) for part in parts) == len(ix.values)
    for where, _ in ix.constraints:
        assert len({owner[i] for i in where}) == 1


def test_a_profile_keeps_exactly_the_undominated_points() -> None:
    rng = random.Random(5)
    for _ in range(50):
        profile = spot5_search.Profile((0,))
        added = {(0, 0)}
        for _ in range(rng.randrange(1, 15)):
            point = (rng.randrange(8), rng.randrange(10))
            added.add(point)
            profile.add(*point, (0,))
        pareto = {
            (u, g)
            for u, g in added
            if not any((v, h) != (u, g) and v <= u and h >= g for v, h in added)
        }
        assert set(profile.pairs()) == pareto


def test_the_knapsack_matches_brute_force_over_every_combination() -> None:
    rng = random.Random(7)
    for _ in range(30):
        profiles = []
        for k in range(rng.randrange(1, 5)):
            profile = spot5_search.Profile((k,))
            for _ in range(rng.randrange(0, 4)):
                profile.add(rng.randrange(1, 7), rng.randrange(1, 30), (0,))
            profiles.append(profile)
        capacity = rng.randrange(0, 15)
        best, _ = spot5_search.knapsack(profiles, capacity)
        for budget in range(capacity + 1):
            brute = max(
                sum(g for _, g in pick)
                for pick in itertools.product(*(p.pairs() for p in profiles))
                if sum(u for u, _ in pick) <= budget
            )
            assert best[budget] == brute


@pytest.mark.parametrize("name", ["54.spot", "29.spot", "11.spot", "1502.spot"])
def test_exact_profiles_give_the_proven_optimum(name: str) -> None:
    # Every component of these has at most 40 photos or takes no recorder (11.spot,
    # the paper's 414, is one of 364 photos): the search solves each exactly at every
    # capacity that matters, and the knapsack over the profiles is the optimum.
    instance = _read(name)
    ix = spot5_search.Indexed.of(instance)
    found = spot5_search.improve(ix, _start(ix), 60.0)
    assert found.optimal
    assert found.gain == int(BEST[name]["best_known_value"])
    answer = _answer(instance, ix, found.choice)
    assert spot5.check(instance, answer) == []
    assert spot5.gain(instance, answer) == found.gain


def test_the_search_keeps_only_valid_selections_and_never_loses_gain() -> None:
    instance = _read("1504.spot")
    ix = spot5_search.Indexed.of(instance)
    start = _start(ix)
    for i in range(0, len(start), 7):  # a valid start with some gain: spaced photos
        trial = list(start)
        trial[i] = 0
        if spot5.check(instance, _answer(instance, ix, trial)) == []:
            start = trial
    before = spot5.gain(instance, _answer(instance, ix, start))
    search = spot5_search.Search(ix, start)
    gains = []
    for k in sorted(range(len(search.profiles)), key=lambda k: -len(search.profiles[k].positions))[
        :3
    ]:
        for _ in range(4):
            search.step(k)
            gains.append(search.answer()[1])
    assert gains == sorted(gains)
    assert before <= gains[0]
    assert gains[-1] <= int(BEST["1504.spot"]["best_known_value"])  # the proven optimum
    choice, total = search.answer()
    answer = _answer(instance, ix, choice)
    assert spot5.check(instance, answer) == []
    assert spot5.gain(instance, answer) == total
    # Every point of every profile is a valid selection of its component alone.
    for profile in search.profiles:
        for units, (g, part) in profile.points.items():
            alone = [spot5_search.REJECTED] * len(ix.values)
            for i, c in zip(profile.positions, part, strict=True):
                alone[i] = c
            assert spot5.check(instance, _answer(instance, ix, alone)) == []
            assert ix.units_of(profile.positions, alone) == units
            assert ix.gain_of(profile.positions, alone) == g


@pytest.mark.parametrize("name", ["1502.spot", "1504.spot", "412.spot"])
def test_the_bound_is_never_below_the_proven_optimum(name: str) -> None:
    instance = _read(name)
    found = spot5.solve(instance, time_limit_s=3, workers=2)
    optimum = int(BEST[name]["best_known_value"])
    assert found.value <= optimum <= found.bound
    assert spot5.check(instance, found.answer) == []
    assert found.optimal == (found.value >= found.bound)


def test_the_search_takes_the_same_steps_from_the_same_start() -> None:
    instance = _read("1504.spot")
    ix = spot5_search.Indexed.of(instance)
    found = []
    for _ in range(2):
        search = spot5_search.Search(ix, _start(ix), seed=3, threads=2)
        search.run(600.0, rounds=5)
        found.append((search.answer(), search.steps, search.window))
    assert found[0] == found[1]
    (choice, total), _, _ = found[0]
    answer = _answer(instance, ix, choice)
    assert spot5.check(instance, answer) == []
    assert spot5.gain(instance, answer) == total <= int(BEST["1504.spot"]["best_known_value"])
