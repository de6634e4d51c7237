"""Check the planner against brute force and its rules on small random instances.

The oracle enumerates every set of candidates (at most one per request) and keeps
those its own plain re-implementation of the rules accepts: on each satellite,
sorted by start, every later candidate starts after the earlier one ends plus the
slew between them; the memory's book-keeping (docs/planning.md) holds with the
downlinks sending as much as they may as early as they may.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jointsat.planning.candidates import Candidates
from jointsat.planning.memory import accounted, simulate
from jointsat.planning.plan import Objective, Unserved
from jointsat.planning.planner import PlannerSettings, greedy, looks_of, plan
from jointsat.planning.problem import Agility, Downlink, Imager, PlanningProblem
from jointsat.planning.requests import EarthTarget
from jointsat.scheduling.problem import Partner, Window

START = datetime(2024, 5, 10, tzinfo=UTC)
HORIZON_S = 2_000.0
exact = PlannerSettings(time_limit_s=20.0, workers=2, relative_gap=0.0)


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def random_instance(seed: int, *, requests: int = 7, memory: bool = True):
    """Return a problem and synthetic candidates: 2 satellites, 3 partners."""
    rng = np.random.default_rng(seed)
    partners = (Partner("A", 0.5), Partner("B", 0.3), Partner("C", 0.2))
    satellites = tuple(
        Imager(
            id=str(40000 + s),
            memory_mbit=float(rng.integers(150, 400)) if memory else 1e9,
            imaging_rate_mbps=10.0,
            downlink_rate_mbps=float(rng.integers(2, 10)),
            agility=Agility(
                max_rate_deg_s=float(rng.uniform(1, 4)),
                max_accel_deg_s2=float(rng.uniform(0.2, 1)),
                settle_s=float(rng.uniform(0, 10)),
            ),
            initial_memory_mbit=float(rng.integers(0, 100)),
        )
        for s in range(2)
    )
    wanted = tuple(
        EarthTarget(
            id=f"r{k}",
            partner=partners[int(rng.integers(0, 3))].id,
            lat_deg=0.0,
            lon_deg=0.0,
            gain=int(rng.integers(1, 6)),
        )
        for k in range(requests)
    )
    downlinks = []
    for s in satellites:
        t = float(rng.uniform(0, 300))
        while t < HORIZON_S - 100:
            length = float(rng.uniform(20, 80))
            downlinks.append(
                Downlink(s.id, START + timedelta(seconds=t), START + timedelta(seconds=t + length))
            )
            t += length + float(rng.uniform(100, 600))
    problem = PlanningProblem(
        horizon=Window(START, START + timedelta(seconds=HORIZON_S)),
        partners=partners,
        satellites=satellites,
        requests=wanted,
        downlinks=tuple(downlinks),
    )
    rows = []
    for r in range(requests):
        for _ in range(int(rng.integers(0, 4))):  # some requests have no candidate
            s = int(rng.integers(0, 2))
            start = float(rng.uniform(0, HORIZON_S - 100))
            stereo = bool(rng.random() < 0.2)
            look = float(rng.uniform(5, 30))
            second = start + look + float(rng.uniform(10, 30)) if stereo else math.nan
            end = second + look if stereo else start + look
            rows.append((r, s, start, end, second, look * (2 if stereo else 1) * 10.0))
    n = len(rows)
    a = np.array(rows, dtype=float).reshape(n, 6)
    candidates = Candidates(
        request=a[:, 0].astype(np.int64),
        satellite=a[:, 1].astype(np.int64),
        opportunity=np.arange(n, dtype=np.int64),
        start_s=a[:, 2],
        end_s=a[:, 3],
        second_start_s=a[:, 4],
        pointing_start=_unit(rng, n),
        pointing_end=_unit(rng, n),
        off_nadir_deg=rng.uniform(0, 30, n),
        volume_mbit=a[:, 5],
    )
    return problem, candidates


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b)))))


def follows_rules(problem: PlanningProblem, c: Candidates, chosen: list[int]) -> bool:
    """Return whether the oracle's own reading of the rules accepts the chosen set."""
    requests = [int(c.request[i]) for i in chosen]
    if len(set(requests)) != len(requests):
        return False
    for s, imager in enumerate(problem.satellites):
        mine = sorted((i for i in chosen if c.satellite[i] == s), key=lambda i: c.start_s[i])
        for x, y in itertools.combinations(mine, 2):
            slew = float(imager.agility.slew_s(_angle(c.pointing_end[x], c.pointing_start[y])))
            if c.start_s[y] < c.end_s[x] + slew:
                return False
        # Book-keeping: whole volume from the start; downlinks count from their end and
        # send only data of observations ended before they began; send greedily.
        capacity = math.floor(imager.memory_mbit)
        initial = math.ceil(imager.initial_memory_mbit)
        volume = {i: math.ceil(c.volume_mbit[i] - 1e-9) for i in mine}
        contacts = sorted(
            (
                (d.start - START).total_seconds(),
                (d.end - START).total_seconds(),
                math.floor(d.duration_s * imager.downlink_rate_mbps),
            )
            for d in problem.downlinks
            if d.satellite == imager.id
        )
        sent = 0.0
        for start, end, most in contacts:
            held = initial + sum(volume[i] for i in mine if c.start_s[i] < end) - sent
            if held > capacity:
                return False
            ready = initial + sum(volume[i] for i in mine if c.end_s[i] <= start) - sent
            sent += max(0.0, min(most, ready))
        if initial + sum(volume.values()) - sent > capacity:
            return False
    return True


def brute_force(problem: PlanningProblem, c: Candidates) -> list[list[int]]:
    """Return every feasible set of candidates."""
    options = [
        [None, *np.flatnonzero(c.request == r).tolist()] for r in range(len(problem.requests))
    ]
    found = []
    for pick in itertools.product(*options):
        chosen = [i for i in pick if i is not None]
        if follows_rules(problem, c, chosen):
            found.append(chosen)
    return found


def gains(problem: PlanningProblem, c: Candidates, chosen: list[int]) -> dict[str, int]:
    got = {p.id: 0 for p in problem.partners}
    for i in chosen:
        r = problem.requests[int(c.request[i])]
        got[r.partner] += r.gain
    return got


def leximin_key(problem: PlanningProblem, c: Candidates, chosen: list[int]) -> tuple:
    got = gains(problem, c, chosen)
    reachable = {problem.requests[int(r)].partner for r in c.request}
    normalized = sorted(
        round(got[p.id] / p.share, 9) for p in problem.partners if p.id in reachable
    )
    return (*normalized, sum(got.values()))


@pytest.mark.parametrize("seed", range(12))
def test_max_gain_equals_brute_force(seed: int) -> None:
    problem, c = random_instance(seed)
    feasible = brute_force(problem, c)
    best = max(sum(gains(problem, c, f).values()) for f in feasible)
    found = plan(problem, c, Objective.MAX_GAIN, exact)
    chosen = [_index(c, problem, o) for o in found.observations]
    assert follows_rules(problem, c, chosen)
    assert found.total_gain == best
    assert found.status.value == "optimal"


@pytest.mark.parametrize("seed", range(12))
def test_fair_is_the_leximin_of_brute_force(seed: int) -> None:
    problem, c = random_instance(seed + 100)
    feasible = brute_force(problem, c)
    best = max(leximin_key(problem, c, f) for f in feasible)
    found = plan(problem, c, Objective.FAIR, exact)
    chosen = [_index(c, problem, o) for o in found.observations]
    assert follows_rules(problem, c, chosen)
    assert leximin_key(problem, c, chosen) == best
    assert found.status.value == "optimal"


def _index(c: Candidates, problem: PlanningProblem, o) -> int:
    """Return the candidate an observation came from."""
    r = next(k for k, q in enumerate(problem.requests) if q.id == o.request)
    start = (o.start - START).total_seconds()
    return int(
        next(
            i
            for i in np.flatnonzero(c.request == r)
            if abs(c.start_s[i] - start) < 1e-3
            and problem.satellites[int(c.satellite[i])].id == o.satellite
        )
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), objective=st.sampled_from(list(Objective)))
def test_every_plan_and_every_greedy_plan_follows_the_rules(seed: int, objective) -> None:
    problem, c = random_instance(seed, requests=10)
    found = plan(problem, c, objective, PlannerSettings(time_limit_s=2.0, workers=2))
    chosen = [_index(c, problem, o) for o in found.observations]
    assert follows_rules(problem, c, chosen)
    for peak in found.memory.values():
        assert peak.peak_mbit <= peak.capacity_mbit + 1e-6
    quick = [_index(c, problem, o) for o in greedy(problem, c, objective).observations]
    assert follows_rules(problem, c, quick)
    if objective is Objective.MAX_GAIN:  # maximal: nothing left could be added
        served = {int(c.request[i]) for i in quick}
        for i in range(len(c)):
            if int(c.request[i]) not in served:
                assert not follows_rules(problem, c, [*quick, i])
    reasons = dict(found.unserved)
    with_candidates = {problem.requests[int(r)].id for r in c.request}
    for request, why in reasons.items():
        expected = Unserved.NOT_SELECTED if request in with_candidates else Unserved.NO_OPPORTUNITY
        assert why is expected


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_the_book_keeping_never_holds_less_than_the_physical_memory(seed: int) -> None:
    problem, c = random_instance(seed, requests=12, memory=False)
    imager = problem.satellites[0]
    rows = np.flatnonzero(c.satellite == 0)
    # keep a set with no two overlapping candidates, as a plan would
    chosen: list[int] = []
    for i in rows[np.argsort(c.start_s[rows])]:
        if not chosen or c.start_s[i] >= c.end_s[chosen[-1]]:
            chosen.append(int(i))
    contacts = [
        ((d.start - START).total_seconds(), (d.end - START).total_seconds())
        for d in problem.downlinks
        if d.satellite == imager.id
    ]
    looks = looks_of(c, chosen).get(0, [])
    physical = simulate(
        imager.initial_memory_mbit, 10.0, imager.downlink_rate_mbps, looks, contacts
    )
    rows_c = np.array(chosen, dtype=np.int64)
    books = accounted(
        imager.initial_memory_mbit,
        c.start_s[rows_c],
        c.end_s[rows_c],
        c.volume_mbit[rows_c],
        np.array([a for a, _ in contacts]),
        np.array([b for _, b in contacts]),
        np.array([(b - a) * imager.downlink_rate_mbps for a, b in contacts]),
    )
    assert books.peak_mbit >= physical.peak_mbit - 1e-6
    assert books.left_mbit >= physical.left_mbit - 1e-6


def test_the_physical_memory_by_hand() -> None:
    # 10 s at 10 Mbit/s = 100 Mbit; a contact from 20 to 25 s at 4 Mbit/s sends 20;
    # a second look of 10 s from 22 s adds 100 while the first is being sent.
    level = simulate(5.0, 10.0, 4.0, [(0.0, 10.0), (22.0, 32.0)], [(20.0, 25.0)])
    assert level.peak_mbit == pytest.approx(5 + 100 - 20 + 100)
    assert level.left_mbit == pytest.approx(185.0)


def _two_looks(downlink: tuple[float, float] | None) -> tuple[PlanningProblem, Candidates]:
    """Two requests of 100 Mbit each, 100 s apart, on one satellite holding 150 Mbit."""
    imager = Imager("1", memory_mbit=150.0, imaging_rate_mbps=10.0, downlink_rate_mbps=5.0)
    problem = PlanningProblem(
        horizon=Window(START, START + timedelta(seconds=HORIZON_S)),
        partners=(Partner("A", 1.0),),
        satellites=(imager,),
        requests=tuple(
            EarthTarget(id=f"r{k}", partner="A", lat_deg=0, lon_deg=0, gain=1 + k) for k in range(2)
        ),
        downlinks=()
        if downlink is None
        else (Downlink("1", *(START + timedelta(seconds=t) for t in downlink)),),
    )
    same = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    return problem, Candidates(
        request=np.array([0, 1]),
        satellite=np.array([0, 0]),
        opportunity=np.array([0, 1]),
        start_s=np.array([0.0, 110.0]),
        end_s=np.array([10.0, 120.0]),
        second_start_s=np.full(2, math.nan),
        pointing_start=same,
        pointing_end=same,
        off_nadir_deg=np.zeros(2),
        volume_mbit=np.array([100.0, 100.0]),
    )


@pytest.mark.parametrize(
    ("downlink", "served"),
    [
        (None, ["r1"]),  # no room for both: the larger gain
        ((20.0, 30.0), ["r0", "r1"]),  # 50 Mbit sent before the second look: both fit
        ((20.0, 25.0), ["r1"]),  # 25 Mbit sent: 175 > 150
        ((5.0, 60.0), ["r1"]),  # begins before the first look ends: it sends nothing of it
    ],
)
def test_downlinks_make_room_in_the_memory(downlink, served) -> None:
    problem, c = _two_looks(downlink)
    found = plan(problem, c, Objective.MAX_GAIN, exact)
    assert sorted(o.request for o in found.observations) == served
    assert found.status.value == "optimal"
