"""Find every pass of many satellites over many ground stations.

The engine (:mod:`jointsat.orbits.pass_scan`, :mod:`jointsat.orbits.pass_finish`)
runs on blocks of whole satellites (:func:`plan_blocks`): here, one after the other,
or as tasks on an executor the caller hands in (a Dask client's, from
:mod:`jointsat.executors`): workers belong to the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
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
    "Block",
    "BlockJob",
    "Pass",
    "Passes",
    "ProgressCallback",
    "PropagationProblem",
    "SatelliteId",
    "find_passes",
    "iter_passes",
    "merge_blocks",
    "plan_blocks",
    "run_blocks",
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

    def without_rows(self) -> Passes:
        """Return these passes' satellites, freshness and problems, with no pass.

        The empty columns are new arrays, not views: a view would keep the passes'
        memory alive (a streamed catalogue's would grow with its output).
        """
        return dataclasses.replace(
            self, **{name: getattr(self, name)[:0].copy() for name in PASS_ARRAYS}
        )

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


BLOCK_SATELLITE_STATION_DAYS = 50_000.0
"""Work in one block of satellites (satellites x stations x days): seconds of one core."""


@dataclass(frozen=True)
class BlockJob:
    """A block of satellites to predict as one task, anywhere: plain, picklable records.

    ``first`` is the index of the block's first satellite among all of them.
    Propagators cannot be pickled: the task gets element records (or
    ephemerides, plain arrays) and :meth:`run` builds its own.
    """

    first: int
    records: tuple[OrbitRecord, ...]
    stations: tuple[Station, ...]
    start: datetime
    end: datetime
    min_elevation_deg: float
    stale_rule: StaleRule

    def run(self) -> Passes:
        """Return the block's passes, satellites indexed within the block."""
        return _predict(
            build_orbits(self.records),
            self.stations,
            self.start,
            self.end,
            self.min_elevation_deg,
            self.stale_rule,
        )


@dataclass(frozen=True)
class Block:
    """The passes of one block of satellites; ``first`` places it among all satellites."""

    first: int
    passes: Passes


def plan_blocks(
    elements: Sequence[OrbitRecord],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    *,
    min_elevation_deg: float = 0.0,
    stale_rule: StaleRule = DEFAULT_RULE,
    satellites_per_block: int | None = None,
) -> list[BlockJob]:
    """Split a prediction into blocks of whole satellites, each sized to take seconds.

    Without ``satellites_per_block`` a block holds about
    :data:`BLOCK_SATELLITE_STATION_DAYS` of work. Every element set of one
    catalog number lands in the same block.
    """
    start, end = _check_window(start, end)
    satellites = build_orbits(elements)
    Sites.build(stations, min_elevation_deg)  # bad input fails here, not in a task
    days = max((end - start).total_seconds() / 86_400.0, 1e-6)
    size = satellites_per_block or max(
        1, int(BLOCK_SATELLITE_STATION_DAYS // max(1.0, len(stations) * days))
    )
    return [
        BlockJob(
            first,
            tuple(r for s in satellites[first : first + size] for r in orbit_records(s)),
            tuple(stations),
            start,
            end,
            min_elevation_deg,
            stale_rule,
        )
        for first in range(0, len(satellites), size)
    ]


def iter_passes(
    elements: Sequence[OrbitRecord],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    *,
    min_elevation_deg: float = 0.0,
    executor: Executor | None = None,
    satellites_per_block: int | None = None,
    progress: ProgressCallback | None = None,
    stale_rule: StaleRule = DEFAULT_RULE,
) -> Iterator[Block]:
    """Yield the passes block of satellites by block, as each block finishes.

    Each block's passes are sorted like :class:`Passes`; blocks come in the order
    they finish (with an ``executor``, any order). ``progress(done, total)``
    counts blocks. See :func:`find_passes` for the rest.
    """
    jobs = plan_blocks(
        elements,
        stations,
        start,
        end,
        min_elevation_deg=min_elevation_deg,
        stale_rule=stale_rule,
        satellites_per_block=satellites_per_block,
    )
    return run_blocks(jobs, executor=executor, progress=progress)


def run_blocks(
    jobs: Sequence[BlockJob],
    *,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> Iterator[Block]:
    """Yield the passes of planned blocks (:func:`plan_blocks`) as each block finishes.

    Without an ``executor`` the blocks run here, in order; with one, each is a task
    on it and they come in the order they finish. ``progress(done, total)`` counts
    blocks.
    """
    if executor is None:
        done_blocks: Iterator[tuple[BlockJob, Passes]] = ((job, job.run()) for job in jobs)
    else:
        futures = {executor.submit(BlockJob.run, job): job for job in jobs}
        done_blocks = ((futures[f], f.result()) for f in as_completed(futures))
    for done, (job, passes) in enumerate(done_blocks, start=1):
        if progress is not None:
            progress(done, len(jobs))
        yield Block(job.first, passes)


def find_passes(
    elements: Sequence[OrbitRecord],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    *,
    min_elevation_deg: float = 0.0,
    executor: Executor | None = None,
    satellites_per_block: int | None = None,
    progress: ProgressCallback | None = None,
    stale_rule: StaleRule = DEFAULT_RULE,
) -> Passes:
    """Find every pass of every satellite over every station between start and end.

    Several element sets of one catalog number are one satellite: each time
    uses the set whose epoch is nearest. An ephemeris (an OEM) is a satellite
    of its own, predicted only within its coverage. ``min_elevation_deg`` applies to
    stations whose own ``min_elevation_deg`` is None; a station's horizon mask,
    when set, applies on top of its minimum elevation.

    The satellites are predicted in blocks (:func:`plan_blocks`); with an
    ``executor`` (a Dask client's ``get_executor()``, from
    :func:`jointsat.executors.dask_client`, or any ``concurrent.futures`` process
    pool: SGP4 holds the GIL, threads do not help) each block is a task on it;
    without one, everything runs here. The result is the same either way, bit for bit.
    ``progress(done, total)`` is called as blocks finish.

    AOS and LOS are the times the elevation crosses the station's threshold,
    TCA the time of greatest elevation. Passes cut by the window's edges are
    clipped to it and flagged ``truncated``. Each pass carries the age of the
    elements used at its TCA, stale past ``stale_rule``'s threshold.
    """
    start, end = _check_window(start, end)
    blocks = iter_passes(
        elements,
        stations,
        start,
        end,
        min_elevation_deg=min_elevation_deg,
        executor=executor,
        satellites_per_block=satellites_per_block,
        progress=progress,
        stale_rule=stale_rule,
    )
    return merge_blocks(list(blocks), stations, start, end)


def _predict(
    satellites: Sequence[Orbit],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    min_elevation_deg: float,
    stale_rule: StaleRule,
) -> Passes:
    """Run the engine here on built orbits: scan chunk by chunk, then finish."""
    sites = Sites.build(stations, min_elevation_deg)
    duration_s = (end - start).total_seconds()
    window = Window(TimeOrigin.of(start), duration_s)
    found: list[Found] = []
    problems: list[PropagationProblem] = []
    for step_s, members in plan_chunks(satellites, sites.count, duration_s):
        chunk = [satellites[i] for i in members]
        result, chunk_problems = scan(chunk, np.asarray(members), step_s, window, sites)
        found.append(result)
        problems.extend(
            PropagationProblem(i, start + timedelta(seconds=t), code, error_message(code))
            for i, t, code in chunk_problems
        )
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


def merge_blocks(
    blocks: Sequence[Block], stations: Sequence[Station], start: datetime, end: datetime
) -> Passes:
    """Join blocks (in any order) into one :class:`Passes`, as if predicted at once."""
    found = sorted(blocks, key=lambda b: b.first)
    if len(found) == 1 and found[0].first == 0:
        return found[0].passes
    columns = {
        name: np.concatenate(
            [np.zeros(0, dtype=_DTYPES[name])]
            + [
                getattr(b.passes, name) + b.first
                if name == "satellite"
                else getattr(b.passes, name)
                for b in found
            ]  # flags stay booleans: adding 0 would make them integers
        )
        for name in PASS_ARRAYS
    }
    order = np.lexsort((columns["station"], columns["satellite"], columns["aos_s"]))
    problems = [
        dataclasses.replace(q, satellite=q.satellite + b.first)
        for b in found
        for q in b.passes.problems
    ]
    return Passes(
        start=start,
        end=end,
        satellites=tuple(s for b in found for s in b.passes.satellites),
        stations=tuple(stations),
        problems=tuple(sorted(problems, key=lambda q: (q.satellite, q.time))),
        freshness=tuple(f for b in found for f in b.passes.freshness),
        **{name: values[order] for name, values in columns.items()},
    )


PASS_ARRAYS = tuple(
    f.name
    for f in dataclasses.fields(Passes)
    if f.name not in ("start", "end", "satellites", "stations", "freshness", "problems")
)
"""Name the per-pass arrays of :class:`Passes`, one value per pass."""

_DTYPES = {
    name: (
        np.int64
        if name in ("satellite", "station")
        else bool
        if name in ("sunlit", "truncated", "stale")
        else float
    )
    for name in PASS_ARRAYS
}


def _check_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    for label, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise TimeWindowError(f"{label} {value.isoformat()} has no time zone; give UTC")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise TimeWindowError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    return start, end
