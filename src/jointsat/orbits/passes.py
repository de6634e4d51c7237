"""Find every pass of many satellites over many ground stations.

The engine (:mod:`jointsat.orbits.pass_scan`, :mod:`jointsat.orbits.pass_finish`)
runs in this process, or on blocks of satellites on an executor the caller hands in
(a process pool from :mod:`jointsat.executors`): workers belong to the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from jointsat.errors import TimeWindowError
from jointsat.orbits.freshness import (
    DEFAULT_RULE,
    Freshness,
    StaleRule,
    ages_at,
    stale_mask,
    window_freshness,
)
from jointsat.orbits.pass_finish import finish
from jointsat.orbits.pass_scan import NOTHING_FOUND, Found, Sites, Window, plan_chunks, scan
from jointsat.orbits.propagation import (
    Orbit,
    OrbitRecord,
    build_orbits,
    error_message,
    orbit_records,
)
from jointsat.orbits.stations import Station
from jointsat.orbits.vectors import BoolArray, FloatArray, IntArray, concat_fields
from jointsat.timelib import TimeOrigin

__all__ = [
    "Pass",
    "Passes",
    "ProgressCallback",
    "PropagationProblem",
    "SatelliteId",
    "find_passes",
]

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SatelliteId:
    """Name a satellite of a pass result: its catalog number and latest name."""

    norad_id: int
    name: str


@dataclass(frozen=True)
class PropagationProblem:
    """Report that SGP4 failed for a satellite from some time on (sgp4 error code).

    An ephemeris reports :data:`jointsat.orbits.ephemeris.OUTSIDE_COVERAGE` at
    the first time of the window it does not cover.

    ``satellite`` indexes ``Passes.satellites``, like ``Passes.satellite``.
    """

    satellite: int
    time: datetime
    code: int
    message: str


@dataclass(frozen=True)
class Pass:
    """One pass of one satellite over one station, as a row."""

    satellite: SatelliteId
    station: Station
    aos: datetime
    tca: datetime
    los: datetime
    max_elevation_deg: float
    aos_azimuth_deg: float
    tca_azimuth_deg: float
    los_azimuth_deg: float
    sunlit: bool
    truncated: bool
    elements_age_days: float  # of the element set used at TCA (jointsat.orbits.freshness)
    stale: bool  # that age is past the satellite's threshold

    @property
    def duration_s(self) -> float:
        """Return the time between AOS and LOS in seconds."""
        return (self.los - self.aos).total_seconds()


@dataclass(frozen=True)
class Passes:
    """Hold passes column by column, sorted by AOS then satellite then station.

    Times are seconds after ``start``; ``satellite`` and ``station`` index
    ``satellites`` and ``stations``. ``elements_age_days`` is the age of the element
    set used at TCA, ``stale`` whether it is past the satellite's threshold;
    ``freshness`` says, satellite by satellite (indexed like ``satellites``), the
    oldest its elements get over the whole window.
    """

    start: datetime
    end: datetime
    satellites: tuple[SatelliteId, ...]
    stations: tuple[Station, ...]
    satellite: IntArray
    station: IntArray
    aos_s: FloatArray
    tca_s: FloatArray
    los_s: FloatArray
    max_elevation_deg: FloatArray
    aos_azimuth_deg: FloatArray
    tca_azimuth_deg: FloatArray
    los_azimuth_deg: FloatArray
    sunlit: BoolArray
    truncated: BoolArray
    elements_age_days: FloatArray
    stale: BoolArray
    freshness: tuple[Freshness, ...]
    problems: tuple[PropagationProblem, ...] = ()

    def __len__(self) -> int:
        return int(self.aos_s.size)

    @property
    def duration_s(self) -> FloatArray:
        """Return each pass's duration from AOS to LOS in seconds."""
        return self.los_s - self.aos_s

    def time(self, seconds: float) -> datetime:
        """Return the UTC datetime ``seconds`` after the window's start."""
        return self.start + timedelta(seconds=float(seconds))

    def rows(self) -> list[Pass]:
        """Return the passes as a list of :class:`Pass` rows."""
        return [
            Pass(
                satellite=self.satellites[int(self.satellite[i])],
                station=self.stations[int(self.station[i])],
                aos=self.time(self.aos_s[i]),
                tca=self.time(self.tca_s[i]),
                los=self.time(self.los_s[i]),
                max_elevation_deg=float(self.max_elevation_deg[i]),
                aos_azimuth_deg=float(self.aos_azimuth_deg[i]),
                tca_azimuth_deg=float(self.tca_azimuth_deg[i]),
                los_azimuth_deg=float(self.los_azimuth_deg[i]),
                sunlit=bool(self.sunlit[i]),
                truncated=bool(self.truncated[i]),
                elements_age_days=float(self.elements_age_days[i]),
                stale=bool(self.stale[i]),
            )
            for i in range(len(self))
        ]


def find_passes(
    elements: Sequence[OrbitRecord],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    *,
    min_elevation_deg: float = 0.0,
    executor: Executor | None = None,
    parts: int = 1,
    progress: ProgressCallback | None = None,
    stale_rule: StaleRule = DEFAULT_RULE,
) -> Passes:
    """Find every pass of every satellite over every station between start and end.

    Several element sets of one catalog number are one satellite: each time
    uses the set whose epoch is nearest. An ephemeris (an OEM) is a satellite
    of its own, predicted only within its coverage. ``min_elevation_deg`` applies to
    stations whose own ``min_elevation_deg`` is None; a station's horizon mask,
    when set, applies on top of its minimum elevation. With an ``executor``,
    the satellites are split into ``parts`` blocks, each a task on it (SGP4
    holds the GIL: give a process pool, :func:`jointsat.executors.process_pool`);
    without one, everything runs here. ``progress(done, total)`` is called as
    work advances.

    AOS and LOS are the times the elevation crosses the station's threshold,
    TCA the time of greatest elevation. Passes cut by the window's edges are
    clipped to it and flagged ``truncated``. Each pass carries the age of the
    elements used at its TCA, stale past ``stale_rule``'s threshold.
    """
    start, end = _check_window(start, end)
    satellites = build_orbits(elements)
    sites = Sites.build(stations, min_elevation_deg)
    if executor is not None and parts > 1 and len(satellites) > 1:
        return _in_parts(
            executor,
            satellites,
            stations,
            (start, end),
            min_elevation_deg,
            stale_rule,
            parts,
            progress,
        )
    duration_s = (end - start).total_seconds()
    window = Window(TimeOrigin.of(start), duration_s)

    plan = plan_chunks(satellites, sites.count, duration_s)
    found: list[Found] = []
    problems: list[PropagationProblem] = []
    for done, (step_s, members) in enumerate(plan, start=1):
        chunk = [satellites[i] for i in members]
        result, chunk_problems = scan(chunk, np.asarray(members), step_s, window, sites)
        found.append(result)
        problems.extend(
            PropagationProblem(i, start + timedelta(seconds=t), code, error_message(code))
            for i, t, code in chunk_problems
        )
        if progress is not None:
            progress(done, len(plan))
    passes = finish(concat_fields(found, NOTHING_FOUND), satellites, window, sites)
    ages = ages_at(satellites, passes["satellite"], window.origin, passes["tca_s"])
    return Passes(
        start=start,
        end=end,
        satellites=tuple(SatelliteId(s.norad_id, s.name) for s in satellites),
        stations=tuple(stations),
        problems=tuple(sorted(problems, key=lambda p: (p.satellite, p.time))),
        elements_age_days=ages,
        stale=stale_mask(satellites, passes["satellite"], ages, stale_rule),
        freshness=tuple(window_freshness(s, start, end, stale_rule) for s in satellites),
        **passes,
    )


def _in_parts(
    executor: Executor,
    satellites: Sequence[Orbit],
    stations: Sequence[Station],
    window: tuple[datetime, datetime],
    min_elevation_deg: float,
    stale_rule: StaleRule,
    parts: int,
    progress: ProgressCallback | None,
) -> Passes:
    """Run find_passes on blocks of satellites on the executor and merge the results.

    Propagators cannot be pickled: each task gets element records (or
    ephemerides, plain arrays) and builds its own.
    """
    start, end = window
    blocks = [list(b) for b in np.array_split(np.arange(len(satellites)), parts) if b.size]
    jobs = [
        (
            [e for i in block for e in orbit_records(satellites[i])],
            stations,
            start,
            end,
            min_elevation_deg,
            stale_rule,
        )
        for block in blocks
    ]
    results: list[Passes | None] = [None] * len(jobs)
    futures = {executor.submit(_find_passes_job, job): n for n, job in enumerate(jobs)}
    for done, future in enumerate(as_completed(futures), start=1):
        results[futures[future]] = future.result()
        if progress is not None:
            progress(done, len(jobs))
    found = [r for r in results if r is not None]
    offsets = np.cumsum([0] + [len(p.satellites) for p in found])
    columns = {
        name: np.concatenate(
            [
                getattr(p, name) + (offsets[n] if name == "satellite" else 0)
                for n, p in enumerate(found)
            ]
        )
        for name in _COLUMNS
    }
    order = np.lexsort((columns["station"], columns["satellite"], columns["aos_s"]))
    problems = [
        dataclasses.replace(q, satellite=q.satellite + int(offsets[n]))
        for n, p in enumerate(found)
        for q in p.problems
    ]
    return Passes(
        start=start,
        end=end,
        satellites=tuple(s for p in found for s in p.satellites),
        stations=tuple(stations),
        problems=tuple(sorted(problems, key=lambda q: (q.satellite, q.time))),
        freshness=tuple(f for p in found for f in p.freshness),
        **{name: values[order] for name, values in columns.items()},
    )


def _find_passes_job(
    job: tuple[list[OrbitRecord], Sequence[Station], datetime, datetime, float, StaleRule],
) -> Passes:
    elements, stations, start, end, min_elevation_deg, stale_rule = job
    return find_passes(
        elements, stations, start, end, min_elevation_deg=min_elevation_deg, stale_rule=stale_rule
    )


_COLUMNS = tuple(
    f.name
    for f in dataclasses.fields(Passes)
    if f.name not in ("start", "end", "satellites", "stations", "freshness", "problems")
)  # the per-pass arrays


def _check_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    for label, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise TimeWindowError(f"{label} {value.isoformat()} has no time zone; give UTC")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise TimeWindowError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    return start, end
