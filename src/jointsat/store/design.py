"""Keep partners' areas of interest and mission-design studies, and run a stored study.

An area is stored as the GeoJSON Feature ``jointsat.design.areas.area_json`` writes
(its ``name`` and ``partner`` properties being the row's name and the partner's code).
A study is stored with its inputs as checked (:class:`StudyInputs`), then run by
:func:`run_study`, the one path of the service's background runner and the demo:
claim it (``queued`` to ``running``, atomically, so that of several server processes
one runs it), build the engine's study from the inputs and the areas it used, run it,
and keep the summary, the provenance and, for a coverage study, the per-point table
as Parquet bytes, or the reason it failed. Nothing here decides who may see what
(``jointsat.archive.rights``; the service applies it).

The per-point table lives in the study's row (``points_parquet``), not in the
archive's blob store: it is written in the same transaction as the study's ``done``,
so that a study is never done without its table nor a table left without its study;
it goes with the study in backups and migrations; and the service's limits keep it
to a few megabytes (:data:`API_LIMITS`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker, undefer

from jointsat import __version__
from jointsat.constants import DAY_S
from jointsat.design.access import AccessRule
from jointsat.design.areas import Area, area_json, read_geojson
from jointsat.design.constellations import Constellation, parse_constellation
from jointsat.design.grid import resolution_for, sample
from jointsat.design.merit import FIGURES
from jointsat.design.study import CoverageStudy, run_coverage
from jointsat.design.sweep import (
    STATISTICS,
    Design,
    SweepSettings,
    run_sweep,
    sso_designs,
    walker_designs,
)
from jointsat.design_output import coverage_parquet_bytes
from jointsat.errors import DesignError
from jointsat.store import jobs
from jointsat.store.tables import (
    AreaRecord,
    AreaVisibility,
    DesignStudyArea,
    DesignStudyRecord,
    Partner,
    StudyKind,
    StudyStatus,
    User,
)
from jointsat.timelib import format_iso, parse_iso

_log = logging.getLogger(__name__)

SWEEP_KINDS = ("walker-delta", "walker-star", "sso")
ABANDONED_AFTER = jobs.ABANDONED_AFTER
INTERRUPTED = jobs.INTERRUPTED


@dataclass(frozen=True)
class StudyLimits:
    """How large a study may be: window, grid spacing, satellites, designs of a sweep."""

    max_days: float = 366.0
    min_grid_deg: float = 0.05
    max_satellites: int = 10_000
    max_designs: int = 500
    max_areas: int = 100
    # Grid points x satellites x days (a sweep: summed over its designs); None: any.
    max_point_satellite_days: float | None = None


API_LIMITS = StudyLimits(
    max_days=31.0,
    min_grid_deg=0.5,
    max_satellites=100,
    max_designs=50,
    max_areas=20,
    max_point_satellite_days=50e6,
)
"""What the service runs (docs/store.md, "Design studies"): at most 50 million grid
points x satellites x days, about ten minutes of one core (the engine studies some 75,000
a second: 41,000 points x 24 satellites x 1 day in 14 s); larger studies belong to
``jointsat design`` on a cluster."""


# --- areas ---------------------------------------------------------------------------


def add_area(
    session: Session,
    partner: Partner,
    area: Area,
    visibility: AreaVisibility,
    *,
    now: datetime,
    user: User | None = None,
) -> AreaRecord:
    """Add a partner's area (named by ``area.name``) to the session and return its row."""
    owned = dataclasses.replace(area, partner=partner.code)
    record = AreaRecord(
        partner=partner,
        name=area.name,
        visibility=visibility,
        feature=area_json(owned),
        created_at=now,
        created_by=None if user is None else user.id,
    )
    session.add(record)
    return record


def areas(session: Session) -> list[AreaRecord]:
    """Return every area with its partner, by id."""
    return list(
        session.scalars(
            select(AreaRecord).options(selectinload(AreaRecord.partner)).order_by(AreaRecord.id)
        )
    )


def area_names(session: Session, partner_id: int) -> set[str]:
    """Return the names of a partner's areas."""
    return set(session.scalars(select(AreaRecord.name).where(AreaRecord.partner_id == partner_id)))


def studies_using(session: Session, area_id: int) -> int:
    """Return how many studies used the area."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(DesignStudyArea)
            .where(DesignStudyArea.area_id == area_id)
        )
        or 0
    )


def area_of(record: AreaRecord, name: str | None = None) -> Area:
    """Return the engine's area of a stored one (named ``name``, default its own)."""
    (area,) = read_geojson(json.dumps(record.feature), name=record.name)
    return dataclasses.replace(area, name=name or record.name, partner=record.partner.code)


def study_labels(records: Sequence[AreaRecord]) -> list[str]:
    """Return each area's name in a study: its own, or ``name (CODE)`` where names clash.

    Names are unique per partner only; a study's areas need names of their own.
    """
    counts: dict[str, int] = {}
    for r in records:
        counts[r.name] = counts.get(r.name, 0) + 1
    return [r.name if counts[r.name] == 1 else f"{r.name} ({r.partner.code})" for r in records]


# --- inputs --------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepInputs:
    """A sweep's grid of designs and the figure it judges them by (``jointsat.design.sweep``).

    Walker kinds use ``totals``, ``planes``, ``phasings``, ``altitudes_km`` and
    ``inclinations_deg``; ``sso`` uses ``totals``, ``altitudes_km`` and ``ltans_hours``.
    """

    kind: str
    totals: tuple[int, ...]
    altitudes_km: tuple[float, ...]
    planes: tuple[int, ...] = (1,)
    phasings: tuple[int, ...] = (0,)
    inclinations_deg: tuple[float, ...] = ()
    ltans_hours: tuple[float, ...] = ()
    figure: str = "max_gap_s"
    statistic: str = "mean"

    def designs(self) -> list[Design]:
        """Return the grid's valid designs, in grid order."""
        if self.kind == "sso":
            return sso_designs(self.totals, self.altitudes_km, self.ltans_hours)
        return walker_designs(
            self.totals,
            self.planes,
            self.phasings,
            self.altitudes_km,
            self.inclinations_deg,
            star=self.kind == "walker-star",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> SweepInputs:
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in document.items()
        }
        return cls(**fields)


@dataclass(frozen=True)
class StudyInputs:
    """What a study asks, as stored: constellation specs (or a sweep), areas, window, rule, grid."""

    area_ids: tuple[int, ...]
    start: datetime
    end: datetime
    constellations: tuple[str, ...] = ()
    min_elevation_deg: float | None = 10.0
    half_angle_deg: float | None = None
    daylight_deg: float | None = None
    grid_deg: float = 1.0
    sweep: SweepInputs | None = None

    @property
    def kind(self) -> StudyKind:
        return StudyKind.COVERAGE if self.sweep is None else StudyKind.SWEEP

    @property
    def rule(self) -> AccessRule:
        return AccessRule(self.min_elevation_deg, self.half_angle_deg, self.daylight_deg)

    def as_dict(self) -> dict[str, Any]:
        """Return the inputs as JSON-ready values (times ISO 8601 UTC)."""
        return {
            "constellations": list(self.constellations),
            "area_ids": list(self.area_ids),
            "start": format_iso(self.start),
            "end": format_iso(self.end),
            "min_elevation_deg": self.min_elevation_deg,
            "half_angle_deg": self.half_angle_deg,
            "daylight_deg": self.daylight_deg,
            "grid_deg": self.grid_deg,
            "sweep": None if self.sweep is None else self.sweep.as_dict(),
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> StudyInputs:
        sweep = document.get("sweep")
        return cls(
            area_ids=tuple(document["area_ids"]),
            start=parse_iso(document["start"]),
            end=parse_iso(document["end"]),
            constellations=tuple(document.get("constellations", ())),
            min_elevation_deg=document.get("min_elevation_deg"),
            half_angle_deg=document.get("half_angle_deg"),
            daylight_deg=document.get("daylight_deg"),
            grid_deg=document["grid_deg"],
            sweep=None if sweep is None else SweepInputs.from_dict(sweep),
        )


@dataclass(frozen=True)
class StudyJob:
    """A study ready to run: the engine's inputs built from the stored ones and the areas."""

    inputs: StudyInputs
    areas: tuple[Area, ...]
    area_ids: tuple[int, ...]
    constellations: tuple[Constellation, ...] = ()
    designs: tuple[Design, ...] = ()

    def coverage(self) -> CoverageStudy:
        i = self.inputs
        return CoverageStudy(self.constellations, self.areas, i.start, i.end, i.rule, i.grid_deg)

    def sweep_settings(self) -> SweepSettings:
        i, s = self.inputs, self.inputs.sweep
        assert s is not None
        return SweepSettings(self.areas, i.start, i.end, i.rule, i.grid_deg, s.figure, s.statistic)


def prepare(
    inputs: StudyInputs, records: Sequence[AreaRecord], limits: StudyLimits = StudyLimits()
) -> StudyJob:
    """Return the study the inputs describe over the areas (in ``area_ids``' order), checked.

    Raise :class:`DesignError` saying what is wrong: a malformed constellation, no
    satellite, a rule out of range, a window or grid beyond ``limits``, too many
    satellites or designs, areas repeated.
    """
    if len(set(inputs.area_ids)) != len(inputs.area_ids):
        raise DesignError("an area is named twice in area_ids")
    if not inputs.area_ids:
        raise DesignError("a study needs at least one area")
    if len(inputs.area_ids) > limits.max_areas:
        raise DesignError(f"a study covers at most {limits.max_areas} areas")
    if inputs.end <= inputs.start:
        raise DesignError("end must be after start")
    if inputs.end - inputs.start > timedelta(days=limits.max_days):
        raise DesignError(f"a study's window may span at most {limits.max_days:g} days")
    if not (math.isfinite(inputs.grid_deg) and inputs.grid_deg >= limits.min_grid_deg):
        raise DesignError(f"grid_deg must be at least {limits.min_grid_deg:g} degrees")
    by_id = {r.id: r for r in records}
    ordered = [by_id[i] for i in inputs.area_ids]
    labels = study_labels(ordered)
    areas = tuple(area_of(r, label) for r, label in zip(ordered, labels, strict=True))
    rule = inputs.rule  # checks the rule's ranges
    del rule
    if inputs.sweep is None:
        if not inputs.constellations:
            raise DesignError("give at least one constellation")
        constellations = tuple(
            parse_constellation(s, epoch=inputs.start) for s in inputs.constellations
        )
        satellites = sum(c.satellites for c in constellations)
        if satellites > limits.max_satellites:
            raise DesignError(
                f"a study may fly at most {limits.max_satellites} satellites, not {satellites}"
            )
        job = StudyJob(inputs, areas, inputs.area_ids, constellations=constellations)
        job.coverage()  # the engine's own checks (grid range, satellites, names)
        _check_work(job, satellites, limits)
        return job
    if inputs.constellations:
        raise DesignError("a sweep makes its own designs: give no constellations")
    sweep = inputs.sweep
    if sweep.kind not in SWEEP_KINDS:
        raise DesignError(f"unknown sweep kind {sweep.kind!r}: one of {', '.join(SWEEP_KINDS)}")
    if sweep.figure not in FIGURES:
        raise DesignError(f"unknown figure of merit {sweep.figure!r}: one of {', '.join(FIGURES)}")
    if sweep.statistic not in STATISTICS:
        raise DesignError(f"unknown statistic {sweep.statistic!r}: one of {', '.join(STATISTICS)}")
    designs = tuple(sweep.designs())
    if not designs:
        raise DesignError("the sweep has no valid design (P must divide T, and F < P)")
    if len(designs) > limits.max_designs:
        raise DesignError(
            f"a sweep studies at most {limits.max_designs} designs, not {len(designs)}"
        )
    largest = max(d.total for d in designs)
    if largest > limits.max_satellites:
        raise DesignError(
            f"a design may fly at most {limits.max_satellites} satellites, not {largest}"
        )
    for design in designs:  # each design's orbit is checked as the engine would build it
        design.constellation(inputs.start)
    job = StudyJob(inputs, areas, inputs.area_ids, designs=designs)
    job.sweep_settings()
    _check_work(job, sum(d.total for d in designs), limits)
    return job


def _check_work(job: StudyJob, satellites: int, limits: StudyLimits) -> None:
    """Sample the areas (every area must hold a point) and refuse more work than allowed."""
    if limits.max_point_satellite_days is None:
        return
    grid, _ = sample(job.areas, resolution_for(job.inputs.grid_deg))
    days = (job.inputs.end - job.inputs.start).total_seconds() / DAY_S
    work = len(grid) * satellites * days
    if work > limits.max_point_satellite_days:
        raise DesignError(
            f"the study is too large for the service: {len(grid):,} grid points x "
            f"{satellites} satellites x {days:g} days is {work / 1e6:,.0f} million, over "
            f"{limits.max_point_satellite_days / 1e6:,.0f} million: coarsen grid_deg, "
            "shorten the window, or run it with `jointsat design`"
        )


# --- studies -------------------------------------------------------------------------


def add_study(
    session: Session,
    name: str,
    inputs: StudyInputs,
    records: Sequence[AreaRecord],
    *,
    now: datetime,
    partner_id: int | None = None,
    user: User | None = None,
) -> DesignStudyRecord:
    """Add a study, queued, over the areas, to the session and return its row."""
    by_id = {r.id: r for r in records}
    record = DesignStudyRecord(
        name=name,
        kind=inputs.kind,
        status=StudyStatus.QUEUED,
        partner_id=partner_id,
        created_by=None if user is None else user.id,
        inputs=inputs.as_dict(),
        created_at=now,
    )
    record.area_links = [
        DesignStudyArea(area=by_id[i], position=k) for k, i in enumerate(inputs.area_ids)
    ]
    session.add(record)
    return record


def _study_query() -> Any:
    return select(DesignStudyRecord).options(
        selectinload(DesignStudyRecord.area_links)
        .selectinload(DesignStudyArea.area)
        .selectinload(AreaRecord.partner),
        selectinload(DesignStudyRecord.partner),
        selectinload(DesignStudyRecord.creator),
    )


def studies(session: Session) -> list[DesignStudyRecord]:
    """Return every study with the areas it used (not its per-point table), by id."""
    return list(session.scalars(_study_query().order_by(DesignStudyRecord.id)))


def study(
    session: Session, study_id: int, *, with_points: bool = False
) -> DesignStudyRecord | None:
    """Return a study with its areas (and its per-point table if asked), None if absent."""
    query = _study_query().where(DesignStudyRecord.id == study_id)
    if with_points:
        query = query.options(undefer(DesignStudyRecord.points_parquet))
    found: DesignStudyRecord | None = session.scalars(query).one_or_none()
    return found


def claim(session: Session, study_id: int, now: datetime) -> bool:
    """Mark a queued study running (committed); False when it is not queued (any more)."""
    return jobs.claim(session, DesignStudyRecord, study_id, now)


def queued(session: Session) -> list[int]:
    """Return the ids of the queued studies, oldest first."""
    return jobs.queued(session, DesignStudyRecord)


def beat(session: Session, study_id: int, now: datetime) -> None:
    """Note that a running study is still being run (committed)."""
    jobs.beat(session, DesignStudyRecord, study_id, now)


def fail_abandoned(session: Session, now: datetime, after: timedelta = ABANDONED_AFTER) -> int:
    """Mark failed the running studies whose heartbeat stopped ``after`` ago (committed)."""
    return jobs.fail_abandoned(session, DesignStudyRecord, now, after)


@dataclass(frozen=True, eq=False)
class StudyOutcome:
    """What a study found: its summary, provenance and (coverage) per-point table."""

    summary: dict[str, Any]
    provenance: dict[str, Any]
    points_parquet: bytes | None = None
    points: int | None = None


class StudyInterruptedError(Exception):
    """Raised by a runner's progress callback to stop a study (it goes back to the queue)."""


Progress = Callable[[int, int], None]


def run_job(
    job: StudyJob, *, executor: Executor | None = None, progress: Progress | None = None
) -> StudyOutcome:
    """Run a prepared study and return what it found (JSON-ready: no NaN)."""
    labels = {a.name: i for a, i in zip(job.areas, job.area_ids, strict=True)}
    if job.inputs.sweep is None:
        result = run_coverage(job.coverage(), executor=executor, progress=progress)
        summary = json_ready(result.summary())
        del summary["inputs"]["areas"]  # the study's areas are rows of their own
        summary["inputs"]["area_ids"] = list(job.area_ids)
        for entry in summary["areas"]:
            entry["id"] = labels[entry["name"]]
        table = result.table()
        provenance = summary.pop("provenance")
        return StudyOutcome(summary, provenance, coverage_parquet_bytes(table), len(table["cell"]))
    sweep = job.inputs.sweep
    found = run_sweep(job.designs, job.sweep_settings(), executor=executor, progress=progress)
    summary = {
        "figure": sweep.figure,
        "statistic": sweep.statistic,
        "areas": [
            {"id": i, "name": a.name, "partner": a.partner}
            for a, i in zip(job.areas, job.area_ids, strict=True)
        ],
        "window": {
            "start": format_iso(job.inputs.start),
            "end": format_iso(job.inputs.end),
            "duration_s": (job.inputs.end - job.inputs.start).total_seconds(),
        },
        "designs": json_ready(found.table()),
        "pareto": list(found.pareto),
    }
    provenance = {
        "jointsat": __version__,
        "method": "a coverage study per design (access intervals), worst partner's figure",
        "designs": len(job.designs),
        "propagator": "SGP4 (WGS-72), python-sgp4",
    }
    return StudyOutcome(summary, provenance)


def run_study(
    sessions: sessionmaker[Session],
    study_id: int,
    *,
    clock: Callable[[], datetime],
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> StudyStatus | None:
    """Run a queued study and store what it found, or why it failed; return its status.

    None: it was not queued (another process claimed it, or it is gone). A study whose
    run is interrupted (``progress`` raising :class:`StudyInterruptedError`) goes back to the
    queue. Every other failure is stored with its reason; nothing is raised.
    """
    with sessions() as session:
        if not claim(session, study_id, clock()):
            return None
        try:
            record = study(session, study_id)
            assert record is not None
            inputs = StudyInputs.from_dict(record.inputs)
            job = prepare(inputs, [link.area for link in record.area_links])
        except (DesignError, KeyError, TypeError, ValueError) as error:
            _failed(session, study_id, f"the study's inputs cannot be run: {error}", clock())
            return StudyStatus.FAILED
    try:
        outcome = run_job(job, executor=executor, progress=progress)
    except StudyInterruptedError:
        with sessions() as session:
            jobs.requeue(session, DesignStudyRecord, study_id)
        return StudyStatus.QUEUED
    except Exception as error:  # stored with its reason, never lost
        _log.exception("design study %s failed", study_id)
        reason = (
            str(error) if isinstance(error, DesignError) else f"{type(error).__name__}: {error}"
        )
        with sessions() as session:
            _failed(session, study_id, reason, clock())
        return StudyStatus.FAILED
    with sessions() as session:
        values = {
            "status": StudyStatus.DONE,
            "summary": outcome.summary,
            "provenance": outcome.provenance,
            "points_parquet": outcome.points_parquet,
            "points": outcome.points,
            "finished_at": clock(),
            "error": None,
        }
        jobs.settle(session, DesignStudyRecord, study_id, values, StudyStatus.RUNNING)
    return StudyStatus.DONE


def _failed(session: Session, study_id: int, reason: str, now: datetime) -> None:
    jobs.fail(session, DesignStudyRecord, study_id, reason, now)


# --- the per-point table -------------------------------------------------------------


def points_columns(parquet: bytes, partner: str | None = None) -> dict[str, np.ndarray]:
    """Return a stored per-point table as columns (NaN where undefined), a partner's rows only."""
    import io

    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(parquet))
    columns: dict[str, np.ndarray] = {}
    for name in table.column_names:
        column = table.column(name)
        if column.type == "string":
            columns[name] = np.array(column.to_pylist(), dtype=object)
        elif str(column.type).startswith("int") and column.null_count == 0:
            columns[name] = column.to_numpy()
        else:
            columns[name] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=float)
    if partner is not None:
        keep = columns["partner"] == partner
        columns = {k: v[keep] for k, v in columns.items()}
    return columns


def json_ready(value: Any) -> Any:
    """Return a JSON value with NaN and infinities as null, numpy numbers as Python's."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def area_ids_of(records: Iterable[DesignStudyRecord]) -> set[int]:
    """Return the ids of every area the studies used."""
    return {i for r in records for i in r.area_ids}
