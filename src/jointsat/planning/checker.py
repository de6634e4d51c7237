"""Check a plan against the problem's rules, from the orbits, apart from how it was made.

The checker does not use the opportunities or the candidates: it evaluates the
geometry of every look afresh with SGP4 (one sample a second and at both ends),
recomputes the slews between consecutive observations from the lines of sight, and
runs the memory as the physical process (memory.simulate).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

import numpy as np

from jointsat.orbits.looks import earth_geometry, sky_geometry
from jointsat.orbits.propagation import Orbit
from jointsat.planning.memory import simulate
from jointsat.planning.plan import Observation, Plan
from jointsat.planning.problem import Imager, PlanningProblem
from jointsat.planning.requests import EarthTarget, Mode, Request, SkyTarget
from jointsat.timelib import TimeOrigin, split_julian

angle_tolerance_deg = 0.01  # window edges are refined to 0.01 s: a few thousandths of a degree
time_tolerance_s = 1e-3
memory_tolerance_mbit = 1e-6
edge_inset_s = 0.02  # yes/no conditions (sunlit) are sampled this far inside a look's ends
sample_step_s = 1.0


def check_plan(problem: PlanningProblem, orbits: Sequence[Orbit], plan: Plan) -> list[str]:
    """Return every rule the plan breaks; none when it is valid."""
    requests = {r.id: r for r in problem.requests}
    imagers = {s.id: s for s in problem.satellites}
    by_id = {str(o.norad_id): o for o in orbits}
    problems: list[str] = []
    served: set[str] = set()
    per_satellite: dict[str, list[tuple[Observation, Request]]] = {}
    for o in plan.observations:
        request = requests.get(o.request)
        imager = imagers.get(o.satellite)
        if request is None or imager is None:
            problems.append(f"{o.request} on {o.satellite}: unknown request or satellite")
            continue
        if o.request in served:
            problems.append(f"{o.request} is observed more than once")
        served.add(o.request)
        orbit = by_id.get(o.satellite)
        if orbit is None:
            problems.append(f"{o.satellite}: no orbit to check against")
            continue
        problems.extend(_check_observation(problem, imager, orbit, request, o))
        per_satellite.setdefault(o.satellite, []).append((o, request))
    for satellite, observations in per_satellite.items():
        imager, orbit = imagers[satellite], by_id[satellite]
        observations.sort(key=lambda item: item[0].start)
        for (a, ra), (b, rb) in pairwise(observations):
            after = _line_of_sight(orbit, ra, a.end)
            before = _line_of_sight(orbit, rb, b.start)
            angle = float(np.degrees(np.arccos(np.clip(after @ before, -1.0, 1.0))))
            need = float(imager.agility.slew_s(angle))
            if (b.start - a.end).total_seconds() < need - time_tolerance_s:
                problems.append(
                    f"{satellite}: {b.request} starts {(b.start - a.end).total_seconds():.2f} s "
                    f"after {a.request} ends, but the {angle:.2f} degree slew takes {need:.2f} s"
                )
        problems.extend(_check_memory(problem, imager, [o for o, _ in observations]))
    gains = {p: 0 for p in plan.partners}
    for o in plan.observations:
        if o.request in requests:
            gains[o.partner] = gains.get(o.partner, 0) + requests[o.request].gain
    for partner, found in plan.partners.items():
        if found.gain != gains.get(partner, 0):
            problems.append(
                f"{partner}: the plan reports a gain of {found.gain}, not {gains[partner]}"
            )
    return problems


def _seconds(problem: PlanningProblem, moment: datetime) -> float:
    return (moment - problem.horizon.start).total_seconds()


def _line_of_sight(orbit: Orbit, request: Request, moment: datetime) -> np.ndarray:
    jd, fr = split_julian(moment)
    at = (np.array([jd]), np.array([fr]))
    if isinstance(request, EarthTarget):
        sight = earth_geometry(orbit, request.lat_deg, request.lon_deg, request.alt_m, *at)
        return np.asarray(sight.line_of_sight).reshape(3)
    sky = sky_geometry(orbit, request.ra_deg, request.dec_deg, *at)
    return np.asarray(sky.line_of_sight).reshape(3)


def _looks(o: Observation) -> list[tuple[datetime, datetime]]:
    if o.second_start is None:
        return [(o.start, o.end)]
    return [(o.start, o.start + (o.end - o.second_start)), (o.second_start, o.end)]


def _check_observation(
    problem: PlanningProblem, imager: Imager, orbit: Orbit, request: Request, o: Observation
) -> list[str]:
    name = f"{o.request} on {o.satellite}"
    found: list[str] = []
    if not problem.serves(imager, request):
        found.append(f"{name}: the satellite may not observe this request")
    if o.partner != request.partner or o.gain != request.gain:
        found.append(f"{name}: partner or gain differ from the request's")
    window = problem.window_of(request)
    if o.start < window.start or o.end > window.end:
        found.append(f"{name}: outside the request's window")
    looks = _looks(o)
    stereo = isinstance(request, EarthTarget) and request.mode is Mode.STEREO
    if stereo != (len(looks) == 2):
        found.append(
            f"{name}: a {'stereo' if stereo else 'single'} request needs "
            f"{'two looks' if stereo else 'one look'}"
        )
        return found
    least = request.min_duration_s if isinstance(request, EarthTarget) else request.duration_s
    for a, b in looks:
        if (b - a).total_seconds() < least - time_tolerance_s:
            found.append(f"{name}: a look of {(b - a).total_seconds():.2f} s, under {least} s")
    origin = TimeOrigin.of(problem.horizon.start)
    for a, b in looks:
        start, end = _seconds(problem, a), _seconds(problem, b)
        count = max(2, int(np.ceil((end - start) / sample_step_s)) + 1)
        times = np.linspace(start, end, count)
        inside = np.clip(times, start + edge_inset_s, end - edge_inset_s)
        jd, fr = origin.julian(times)
        if isinstance(request, EarthTarget):
            g = earth_geometry(orbit, request.lat_deg, request.lon_deg, request.alt_m, jd, fr)
            worst = float(np.max(g.off_nadir_deg))
            if not worst <= request.max_off_nadir_deg + angle_tolerance_deg:
                found.append(f"{name}: off-nadir {worst:.3f} deg over {request.max_off_nadir_deg}")
            if not float(np.min(g.elevation_deg)) > -angle_tolerance_deg:
                found.append(f"{name}: the target is below the horizon")
            least_sun = request.min_sun_elevation_deg
            if least_sun is not None:
                lowest = float(np.min(g.sun_elevation_deg))
                if not lowest >= least_sun - angle_tolerance_deg:
                    found.append(f"{name}: sun elevation {lowest:.3f} deg under {least_sun}")
        else:
            assert isinstance(request, SkyTarget)
            g_sky = sky_geometry(orbit, request.ra_deg, request.dec_deg, jd, fr)
            sun = float(np.min(g_sky.sun_angle_deg))
            if not sun >= request.min_sun_angle_deg - angle_tolerance_deg:
                found.append(
                    f"{name}: {sun:.3f} deg from the Sun, under {request.min_sun_angle_deg}"
                )
            limb = float(np.min(g_sky.limb_angle_deg))
            if not limb >= request.min_earth_limb_angle_deg - angle_tolerance_deg:
                found.append(
                    f"{name}: {limb:.3f} deg from the Earth's limb, "
                    f"under {request.min_earth_limb_angle_deg}"
                )
            if request.eclipse_only:
                lit = sky_geometry(orbit, request.ra_deg, request.dec_deg, *origin.julian(inside))
                if bool(np.any(lit.sunlit)):
                    found.append(f"{name}: the satellite is sunlit during the look")
    if stereo:
        assert isinstance(request, EarthTarget)
        middles = [a + (b - a) / 2 for a, b in looks]
        first, second = (_line_of_sight(orbit, request, m) for m in middles)
        angle = float(np.degrees(np.arccos(np.clip(first @ second, -1.0, 1.0))))
        if angle < request.stereo_angle_deg - angle_tolerance_deg:
            found.append(
                f"{name}: the looks are {angle:.2f} deg apart, under {request.stereo_angle_deg}"
            )
        turn = _line_of_sight(orbit, request, looks[0][1]) @ _line_of_sight(
            orbit, request, looks[1][0]
        )
        need = float(imager.agility.slew_s(np.degrees(np.arccos(np.clip(turn, -1.0, 1.0)))))
        if (looks[1][0] - looks[0][1]).total_seconds() < need - time_tolerance_s:
            found.append(f"{name}: no time to slew between the two looks")
    return found


def _check_memory(
    problem: PlanningProblem, imager: Imager, observations: Sequence[Observation]
) -> list[str]:
    looks = [
        (_seconds(problem, a), _seconds(problem, b)) for o in observations for a, b in _looks(o)
    ]
    level = simulate(
        imager.initial_memory_mbit,
        imager.imaging_rate_mbps,
        imager.downlink_rate_mbps,
        looks,
        problem.downlink_spans_s(imager.id),
    )
    if level.peak_mbit > imager.memory_mbit + memory_tolerance_mbit:
        return [
            f"{imager.id}: the memory reaches {level.peak_mbit:.1f} Mbit "
            f"of {imager.memory_mbit:.1f}"
        ]
    return []
