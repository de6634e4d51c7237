"""Plan a week of partners' observations: jointsat's CP-SAT planner against a greedy.

The demo consortium's five pooled satellites (bundled element sets: the ISS, CYGNUS
NG-20 and CREW DRAGON 8 as Earth imagers, CHEOPS and BURSTCUBE pointing at the sky;
their payloads are assumptions, element sets carry none) serve five partners with
shares 0.35 / 0.25 / 0.2 / 0.12 / 0.08 for 7 days. Each partner asks for as many
targets as the others, whatever its share (seeded): 800 Earth targets drawn within 3
degrees of the agency sites the Earth imagers reach (latitude within 52 degrees; gain
1-10, looks of 20-60 s, off-nadir up to 30 degrees, half optical with the Sun at least
10 degrees up, a quarter stereo) and 60 sky targets (5-20 min). Far more is asked than
the satellites can observe, as in a real consortium.
The satellites empty their memory during the contacts of the network's fair schedule
for the same week over 20 agency stations (jointsat's scheduler, issue 4).

Printed from one run, on the same candidates and rules:
- greedy, highest gain first (the baseline), each request taking its first candidate
  that still fits;
- jointsat ``max-gain`` and ``fair`` (CP-SAT, proofs within a relative gap of 1e-4).
For each: time, status and gap, total gain, the least gain per unit of share among the
partners (what the fair objective raises first), each partner's gain and its share of
the total against its entitlement, and the fairness figure: the largest gap between
received and entitled share among the partners with requests left unserved. The
checker (geometry re-evaluated with SGP4, slews, the physical memory) must accept
every plan.

    python -m benchmarks.planning [--earth N] [--sky N] [--time-limit S]
"""

from __future__ import annotations

import argparse
import csv
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from benchmarks.common import STATIONS_CSV, agency_stations
from benchmarks.scheduling import build_problem
from jointsat.files import read_demo_elements
from jointsat.orbits.propagation import group_satellites
from jointsat.planning.checker import check_plan
from jointsat.planning.pipeline import prepare, with_downlinks
from jointsat.planning.plan import Objective, Plan
from jointsat.planning.planner import PlannerSettings, greedy, plan
from jointsat.planning.problem import Agility, Downlink, Imager, PlanningProblem
from jointsat.planning.requests import EarthTarget, Kind, Mode, Request, SkyTarget
from jointsat.scheduling.problem import Partner, Window
from jointsat.scheduling.result import Policy
from jointsat.scheduling.solver import SolverSettings, solve

START = datetime(2024, 5, 10, tzinfo=UTC)
DAYS = 7.0
SHARES = {"esa": 0.35, "nasa": 0.25, "cnes": 0.2, "dlr": 0.12, "asi": 0.08}
SEED = 5
REACH_DEG = 52.0  # sites the Earth imagers (inclination 51.6 degrees) can reach
SPREAD_DEG = 3.0
LOOK_S = (20.0, 40.0, 60.0)
EARTH = {25544: "ISS (ZARYA)", 58898: "CYGNUS NG-20", 59097: "CREW DRAGON 8"}
SKY = {44874: "CHEOPS", 59562: "BURSTCUBE"}
# Assumed payloads: an agile Earth imager writing 400 Mbit/s to 64 Gbit, sent at
# 150 Mbit/s (X band); a photometer writing 2 Mbit/s to 8 Gbit, sent at 2 Mbit/s (S band).
IMAGER = {"memory_mbit": 64_000.0, "imaging_rate_mbps": 400.0, "downlink_rate_mbps": 150.0}
PHOTOMETER = {"memory_mbit": 8_000.0, "imaging_rate_mbps": 2.0, "downlink_rate_mbps": 2.0}
IMAGER_AGILITY = Agility(max_rate_deg_s=2.0, max_accel_deg_s2=0.2, settle_s=10.0)
TELESCOPE_AGILITY = Agility(max_rate_deg_s=0.5, max_accel_deg_s2=0.05, settle_s=30.0)


def requests(earth: int, sky: int) -> tuple[Request, ...]:
    """Return the partners' requests: as many per partner, seeded."""
    with STATIONS_CSV.open(newline="") as f:
        sites = [(float(r["latitude_deg"]), float(r["longitude_deg"])) for r in csv.DictReader(f)]
    sites = [(lat, lon) for lat, lon in sites if abs(lat) <= REACH_DEG]
    rng = np.random.default_rng(SEED)
    partners = list(SHARES)
    found: list[Request] = []
    for k in range(earth):
        lat, lon = sites[int(rng.integers(len(sites)))]
        found.append(
            EarthTarget(
                id=f"earth-{k:03d}",
                partner=partners[k % len(partners)],
                lat_deg=float(lat + rng.uniform(-SPREAD_DEG, SPREAD_DEG)),
                lon_deg=float((lon + rng.uniform(-SPREAD_DEG, SPREAD_DEG) + 180) % 360 - 180),
                gain=int(rng.integers(1, 11)),
                max_off_nadir_deg=30.0,
                min_sun_elevation_deg=10.0 if rng.random() < 0.5 else None,
                mode=Mode.STEREO if rng.random() < 0.25 else Mode.MONO,
                min_duration_s=float(rng.choice(LOOK_S)),
            )
        )
    for k in range(sky):
        found.append(
            SkyTarget(
                id=f"sky-{k:03d}",
                partner=partners[k % len(partners)],
                ra_deg=float(rng.uniform(0, 360)),
                dec_deg=float(np.degrees(np.arcsin(rng.uniform(-1, 1)))),
                gain=int(rng.integers(1, 11)),
                duration_s=float(rng.choice([300.0, 600.0, 1200.0])),
                min_sun_angle_deg=120.0,
                min_earth_limb_angle_deg=20.0,
            )
        )
    return tuple(found)


def downlinks(elements: list) -> tuple[tuple[Downlink, ...], float]:
    """Return the contacts of the network's fair schedule for the week, and its time."""
    chosen = [e for e in elements if e.norad_cat_id in EARTH | SKY]
    network, _ = build_problem(chosen, agency_stations(20), START, DAYS)
    t = time.perf_counter()
    schedule = solve(network, Policy.FAIR, SolverSettings(time_limit_s=30.0))
    found = tuple(Downlink(c.satellite, c.start, c.end) for c in schedule.contacts)
    return found, time.perf_counter() - t


def describe(label: str, problem: PlanningProblem, result: Plan, seconds: float) -> None:
    got = result.partners
    worst = min(r.normalized for r in got.values() if r.reachable_gain > 0)
    print(
        f"  {label:28s} {seconds:8.1f} {result.status.value:>9} {100 * result.gap:7.3f} "
        f"{len(result.observations):6d} {result.total_gain:7d} {worst:9.0f} "
        f"{100 * result.fairness_gap:9.2f}"
    )
    print(
        "      gain (received/entitled share): "
        + ", ".join(
            f"{p} {r.gain} ({100 * r.share_received:.1f}/{100 * r.share_entitled:.0f}%)"
            for p, r in got.items()
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--earth", type=int, default=800, help="Earth targets")
    parser.add_argument("--sky", type=int, default=60, help="sky targets")
    parser.add_argument("--time-limit", type=float, default=120.0, help="CP-SAT seconds")
    args = parser.parse_args()
    elements = [e for e in read_demo_elements().elements if e.norad_cat_id in EARTH | SKY]
    orbits = group_satellites(elements)
    imagers = tuple(
        Imager(id=str(n), agility=IMAGER_AGILITY, observes=frozenset({Kind.EARTH}), **IMAGER)
        for n in EARTH
    ) + tuple(
        Imager(id=str(n), agility=TELESCOPE_AGILITY, observes=frozenset({Kind.SKY}), **PHOTOMETER)
        for n in SKY
    )
    schedule_contacts, scheduled_s = downlinks(elements)
    wanted = requests(args.earth, args.sky)
    problem, contacts = with_downlinks(
        PlanningProblem(
            Window(START, START + timedelta(days=DAYS)),
            tuple(Partner(p, w) for p, w in SHARES.items()),
            imagers,
            wanted,
        ),
        schedule_contacts,
    )
    t = time.perf_counter()
    opportunities, found = prepare(problem, orbits)
    prepared_s = time.perf_counter() - t
    requested = sum(r.gain for r in wanted)
    reachable = sum(wanted[int(r)].gain for r in np.unique(found.request))
    print(
        f"a week of requests: {len(orbits)} satellites, 5 partners, {args.earth} Earth + "
        f"{args.sky} sky targets (gain {requested}, {reachable} observable); "
        f"{len(contacts)} downlinks from the network's fair schedule ({scheduled_s:.1f} s); "
        f"{len(opportunities)} opportunities, {len(found)} candidates in {prepared_s:.1f} s"
    )
    print(
        f"  {'':28s} {'time_s':>8} {'status':>9} {'gap%':>7} {'obs':>6} {'gain':>7} "
        f"{'min_norm':>9} {'fair_gap%':>9}"
    )
    t = time.perf_counter()
    baseline = greedy(problem, found, Objective.MAX_GAIN)
    results = {"greedy, highest gain first": (baseline, time.perf_counter() - t)}
    for objective in (Objective.MAX_GAIN, Objective.FAIR):
        t = time.perf_counter()
        result = plan(problem, found, objective, PlannerSettings(time_limit_s=args.time_limit))
        results[f"jointsat {objective.value}"] = (result, time.perf_counter() - t)
    for label, (result, seconds) in results.items():
        describe(label, problem, result, seconds)
    for label, (result, _) in results.items():
        problems = check_plan(problem, orbits, result)
        print(f"  checker on {label}: {'accepts' if not problems else problems[:3]}")
    fair = results["jointsat fair"][0]
    print(
        "  fair, time per level: "
        + ", ".join(f"{k + 1}: {lv.wall_s:.1f} s" for k, lv in enumerate(fair.levels))
    )


if __name__ == "__main__":
    main()
