"""A contact's outputs for a station: its pointing plan and Doppler table, as rows and files.

One home for what ``jointsat pointing``, ``jointsat doppler`` and the service's
``/contacts/{id}/pointing`` and ``/doppler`` compute, so that they agree row for row:

- the windows: the pass engine's passes of a satellite over a station in a search
  window (:func:`station_passes`), or a stored contact's start..end (:class:`Window`);
- the samples: every ``step_s`` seconds from AOS, and at LOS (:func:`sample_times_s`),
  the station's look angles of the orbit there (:func:`sample_pass`);
- the plans: :func:`jointsat.orbits.pointing.plan_pass` for a rotator
  (:func:`plan_window`), the tables: :func:`jointsat.orbits.doppler.doppler_table`
  (:func:`doppler_window`);
- the files: rows, CSV, JSON, and the pointing predicts as a CCSDS Tracking Data
  Message (TDM, CCSDS 503.0-B-2, KVN, written by ``ccsds-ndm-py``).

Pure: no clock (a TDM's creation date is an argument), no files, no network; the CLI
and the service read the inputs and deliver the outputs. Rows are what both write:
``time`` ISO 8601 UTC to the millisecond, angles to 1e-4 degree, range rates to
0.1 mm/s, frequencies to the millihertz.

The TDM's angles are the satellite's true look angles (``ANGLE_TYPE = AZEL``:
ANGLE_1 the azimuth in [0, 360) from north through east, ANGLE_2 the elevation in
[-90, 90], degrees, not rounded), not the rotator's commanded axis angles: an
antenna controller that reads a TDM plans its own axes. Where the plan is neither
flipped nor lagging they are the CSV's azimuth modulo 360 and its elevation.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import ccsds_ndm
import numpy as np

from jointsat.errors import JointsatError, PointingError
from jointsat.operations.radio import Direction, find_link, parse_links
from jointsat.orbits.doppler import DopplerTable, doppler_table
from jointsat.orbits.freshness import Freshness
from jointsat.orbits.passes import Pass, find_passes
from jointsat.orbits.pointing import PointingPlan, Rotator, plan_pass
from jointsat.orbits.propagation import Orbit, orbit_records
from jointsat.orbits.stations import Station
from jointsat.orbits.tracks import look_angles
from jointsat.orbits.vectors import FloatArray
from jointsat.timelib import TimeOrigin, format_iso_ms, format_iso_ms_after, format_readable

__all__ = [
    "DOPPLER_COLUMNS",
    "POINTING_COLUMNS",
    "PassDoppler",
    "PassPlan",
    "StationPasses",
    "Tuning",
    "Window",
    "choose_link",
    "doppler_rows",
    "doppler_window",
    "plan_window",
    "plans_csv",
    "plans_json",
    "plans_tdm",
    "pointing_rows",
    "rotator_from",
    "rows_csv",
    "sample_pass",
    "sample_times_s",
    "station_passes",
    "tables_csv",
    "tables_json",
]

POINTING_COLUMNS = ("time", "azimuth_deg", "elevation_deg", "lag_deg")
"""The columns of a pointing plan's rows, in CSV and JSON alike."""

DOPPLER_COLUMNS = ("time", "range_rate_m_s", "frequency_hz")
"""The columns of a Doppler table's rows, in CSV and JSON alike."""

ANGLE_DIGITS = 4
"""Decimals of the angles written (1e-4 deg: far below any antenna's beam)."""

RATE_DIGITS = 4
"""Decimals of the range rate written (0.1 mm/s: 1.5e-4 Hz at 437 MHz)."""

FREQUENCY_DIGITS = 3
"""Decimals of the frequency written (1 mHz: far below the 0.1 Hz the table aims at)."""


class Span(Protocol):
    """What a pass and a contact window share: AOS, LOS and the time between."""

    @property
    def aos(self) -> datetime: ...

    @property
    def los(self) -> datetime: ...

    @property
    def duration_s(self) -> float: ...


@dataclass(frozen=True)
class Window:
    """A contact's window: from ``aos`` to ``los`` (aware UTC), as a schedule keeps it."""

    aos: datetime
    los: datetime

    def __post_init__(self) -> None:
        if self.aos.tzinfo is None or self.los.tzinfo is None:
            raise JointsatError("a contact window's times need a time zone")
        if self.los <= self.aos:
            raise JointsatError(
                f"a contact window ends at {format_readable(self.los)}, "
                f"not after its start {format_readable(self.aos)}"
            )

    @property
    def duration_s(self) -> float:
        """Return the time between AOS and LOS in seconds."""
        return (self.los - self.aos).total_seconds()


@dataclass(frozen=True)
class PassPlan:
    """One pass (or contact window) and its pointing plan; ``time_s`` counts from its AOS."""

    found: Span
    plan: PointingPlan

    def time(self, k: int) -> datetime:
        """Return the UTC time of the plan's sample ``k``."""
        return TimeOrigin.of(self.found.aos).at(float(self.plan.time_s[k]))


@dataclass(frozen=True)
class PassDoppler:
    """One pass (or contact window) and its Doppler table; ``time_s`` counts from its AOS."""

    found: Span
    table: DopplerTable

    def time(self, k: int) -> datetime:
        """Return the UTC time of the table's sample ``k``."""
        return TimeOrigin.of(self.found.aos).at(float(self.table.time_s[k]))


@dataclass(frozen=True)
class StationPasses:
    """The passes of one satellite over one station in a window, and what to warn of.

    ``problems`` are one line each (SGP4 failures); ``freshness`` how old the
    elements get over the window (the caller warns of stale ones as it does elsewhere).
    """

    passes: list[Pass]
    freshness: tuple[Freshness, ...]
    problems: list[str]


def station_passes(orbit: Orbit, station: Station, start: datetime, end: datetime) -> StationPasses:
    """Return the orbit's passes over the station in the window, as ``jointsat passes`` finds them.

    No pass at all is an error (:class:`JointsatError`), one line.
    """
    found = find_passes(orbit_records(orbit), [station], start, end)
    problems = [
        f"{orbit.name} ({orbit.norad_id}): SGP4 error {failure.code} ({failure.message}) "
        f"from {format_readable(failure.time)} UTC on"
        for failure in found.problems
    ]
    if len(found) == 0:
        raise JointsatError(
            f"no pass of {orbit.name} ({orbit.norad_id}) over {station.name} between "
            f"{format_readable(start)} and {format_readable(end)} UTC"
        )
    return StationPasses(list(found.rows()), tuple(found.freshness), problems)


def sample_times_s(duration_s: float, step_s: float) -> FloatArray:
    """Return seconds from AOS every ``step_s``, and at LOS (``duration_s``)."""
    if not step_s > 0.0:
        raise JointsatError(f"the step {step_s} s is not a positive number of seconds")
    times_s = np.arange(0.0, duration_s, step_s)
    if times_s.size == 0 or duration_s - times_s[-1] > 1e-6:
        times_s = np.append(times_s, duration_s)
    return np.asarray(times_s, dtype=float)


def sample_looks(
    orbit: Orbit, station: Station, start: datetime, duration_s: float, step_s: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return seconds from ``start`` (every ``step_s``, and at ``duration_s``) and the
    station's azimuth, elevation (deg, clipped to [-90, 90]) and range (km) of the orbit.

    The one sampling of a pass or a contact that pointing, Doppler and link budgets share;
    an orbit that cannot be predicted through it is a :class:`JointsatError`.
    """
    if not duration_s > 0.0:
        raise JointsatError(f"a pass or contact must end after it starts, not {duration_s:g} s")
    times_s = sample_times_s(duration_s, step_s)
    jd, fr = TimeOrigin.of(start).julian(times_s)
    codes, r, _ = orbit.propagate(jd, fr)
    if (codes != 0).any():
        raise JointsatError(
            f"{orbit.name} ({orbit.norad_id}) cannot be predicted through the pass at "
            f"{format_readable(start)} UTC (SGP4 error {int(codes[codes != 0][0])})"
        )
    az, el, range_km = look_angles(r, jd, fr, station.lat_deg, station.lon_deg, station.alt_m)
    return (
        times_s,
        np.asarray(az, dtype=float),
        np.clip(el, -90.0, 90.0),
        np.asarray(range_km, dtype=float),
    )


def sample_pass(
    orbit: Orbit, station: Station, found: Span, step_s: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return seconds from AOS (every ``step_s``, and LOS) and the station's az/el of the orbit.

    The elevation is clipped to [-90, 90]; the engine's AOS and LOS are where it
    crosses the threshold, so a sample there may come out a hair below it.
    """
    times_s, az, el, _ = sample_looks(orbit, station, found.aos, found.duration_s, step_s)
    return times_s, az, el


def plan_window(
    orbit: Orbit, station: Station, found: Span, rotator: Rotator, step_s: float
) -> PassPlan:
    """Return the rotator's plan through one pass or contact window, sampled every ``step_s``.

    The rotator waits at the plan's default parking position before it.
    """
    times_s, az, el = sample_pass(orbit, station, found, step_s)
    return PassPlan(found, plan_pass(times_s, az, el, rotator))


def doppler_window(
    orbit: Orbit,
    station: Station,
    found: Span,
    frequency_hz: float,
    step_s: float,
    *,
    uplink: bool = False,
    ut1_utc_s: float = 0.0,
) -> PassDoppler:
    """Return the Doppler table through one pass or contact window (light time included)."""
    times_s = sample_times_s(found.duration_s, step_s)
    table = doppler_table(
        orbit, station, found.aos, times_s, frequency_hz, uplink=uplink, ut1_utc_s=ut1_utc_s
    )
    return PassDoppler(found, table)


def pointing_rows(plans: Sequence[PassPlan]) -> list[dict[str, object]]:
    """Return every plan's rows (time, azimuth_deg, elevation_deg, lag_deg), pass after pass."""
    return [row for p in plans for row in _plan_rows(p)]


def _plan_rows(p: PassPlan) -> list[dict[str, object]]:
    plan = p.plan
    columns = zip(
        format_iso_ms_after(p.found.aos, plan.time_s),
        _rounded(plan.azimuth_deg, ANGLE_DIGITS),
        _rounded(plan.elevation_deg, ANGLE_DIGITS),
        _rounded(plan.lag_deg, ANGLE_DIGITS),
        strict=True,
    )
    return [
        {"time": t, "azimuth_deg": az, "elevation_deg": el, "lag_deg": lag}
        for t, az, el, lag in columns
    ]


def _rounded(values: FloatArray, digits: int) -> list[float]:
    """Return the values rounded to ``digits`` decimals as Python floats (as ``round`` does)."""
    return [round(v, digits) for v in values.tolist()]


def doppler_rows(tables: Sequence[PassDoppler]) -> list[dict[str, object]]:
    """Return every table's rows (time, range_rate_m_s, frequency_hz), pass after pass."""
    return [row for p in tables for row in _table_rows(p)]


def _table_rows(p: PassDoppler) -> list[dict[str, object]]:
    table = p.table
    columns = zip(
        format_iso_ms_after(p.found.aos, table.time_s),
        _rounded(table.range_rate_m_s, RATE_DIGITS),
        _rounded(table.frequency_hz, FREQUENCY_DIGITS),
        strict=True,
    )
    return [{"time": t, "range_rate_m_s": r, "frequency_hz": f} for t, r, f in columns]


class _Text:
    """A file-like sink for :mod:`csv` (``write`` only), without :mod:`io`."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)


def rows_csv(columns: Sequence[str], records: Sequence[dict[str, object]]) -> str:
    """Return rows as CSV: a header line of ``columns``, then a line per row."""
    sink = _Text()
    writer = csv.DictWriter(sink, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return "".join(sink.parts)


def plans_csv(plans: Sequence[PassPlan]) -> str:
    """Return the plans' rows as CSV with a header line."""
    return rows_csv(POINTING_COLUMNS, pointing_rows(plans))


def plans_document(plans: Sequence[PassPlan], rotator: Rotator) -> dict[str, Any]:
    """Return ``{"rotator": {...}, "passes": [...]}``: the rotator planned for (its
    fields, as a station's stored model holds them), and each pass's AOS, LOS, plan
    figures and rows (``lag_over_half_beam_s`` is against the rotator's ``beamwidth_deg``)."""
    return {
        "rotator": dataclasses.asdict(rotator),
        "passes": [
            {
                "aos": format_iso_ms(p.found.aos),
                "los": format_iso_ms(p.found.los),
                "mode": p.plan.mode.value,
                "preposition_s": round(p.plan.preposition_s, 3),
                "max_lag_deg": round(p.plan.max_lag_deg, ANGLE_DIGITS),
                "lag_over_half_beam_s": round(p.plan.lag_over_half_beam_s, 3),
                "rows": _plan_rows(p),
            }
            for p in plans
        ],
    }


def plans_json(plans: Sequence[PassPlan], rotator: Rotator) -> str:
    """Return :func:`plans_document` as indented JSON text."""
    return json.dumps(plans_document(plans, rotator), indent=2) + "\n"


def tables_csv(tables: Sequence[PassDoppler]) -> str:
    """Return the tables' rows as CSV with a header line."""
    return rows_csv(DOPPLER_COLUMNS, doppler_rows(tables))


def tables_document(tables: Sequence[PassDoppler]) -> dict[str, Any]:
    """Return ``{"passes": [...]}``: each pass's AOS, LOS and rows."""
    return {
        "passes": [
            {
                "aos": format_iso_ms(p.found.aos),
                "los": format_iso_ms(p.found.los),
                "rows": _table_rows(p),
            }
            for p in tables
        ]
    }


def tables_json(tables: Sequence[PassDoppler]) -> str:
    """Return :func:`tables_document` as indented JSON text."""
    return json.dumps(tables_document(tables), indent=2) + "\n"


def _tdm_epoch(moment: datetime) -> str:
    """Return a TDM time tag: ISO 8601 UTC to the millisecond, without a zone (UTC system)."""
    return format_iso_ms(moment).removesuffix("Z")


def plans_tdm(
    plans: Sequence[PassPlan],
    *,
    station: str,
    satellite: str,
    created: datetime,
    originator: str = "JOINTSAT",
) -> str:
    """Return the plans' look angles as a CCSDS TDM 2.0 (KVN): one segment per pass.

    Each segment: ``PARTICIPANT_1`` the station, ``PARTICIPANT_2`` the satellite,
    ``MODE = SEQUENTIAL``, ``PATH = 2,1`` (satellite to station), ``ANGLE_TYPE = AZEL``,
    ``TIME_SYSTEM = UTC``, START_TIME and STOP_TIME the pass's first and last rows; its
    data one ``ANGLE_1`` (azimuth) and one ``ANGLE_2`` (elevation) per row, at the
    rows' times, true look angles (module text). ``created`` is the CREATION_DATE.
    """
    if not plans:
        raise JointsatError("no pass to write as a TDM")
    segments = []
    for p in plans:
        plan = p.plan
        epochs = [_tdm_epoch(p.time(k)) for k in range(plan.time_s.size)]
        observations = []
        for k, epoch in enumerate(epochs):
            azimuth = float(plan.target_azimuth_deg[k]) % 360.0
            elevation = float(plan.target_elevation_deg[k])
            observations.append(
                ccsds_ndm.TdmObservation(epoch=epoch, keyword="ANGLE_1", value=azimuth)
            )
            observations.append(
                ccsds_ndm.TdmObservation(epoch=epoch, keyword="ANGLE_2", value=elevation)
            )
        metadata = ccsds_ndm.TdmMetadata(
            participant_1=station,
            participant_2=satellite,
            time_system="UTC",
            start_time=epochs[0],
            stop_time=epochs[-1],
            mode="SEQUENTIAL",
            path="2,1",
            angle_type="AZEL",
            comment=[
                "Predicted look angles (true azimuth and elevation, degrees) of the pass "
                f"from AOS {format_iso_ms(p.found.aos)} to LOS {format_iso_ms(p.found.los)}"
            ],
        )
        segments.append(
            ccsds_ndm.TdmSegment(
                metadata=metadata, data=ccsds_ndm.TdmData(observations=observations)
            )
        )
    header = ccsds_ndm.TdmHeader(originator=originator, creation_date=_tdm_epoch(created))
    message = ccsds_ndm.Tdm(header=header, body=ccsds_ndm.TdmBody(segments=segments))
    return str(message.to_str("kvn"))


@dataclass(frozen=True)
class Tuning:
    """The link a Doppler table is for: its name, the frequency at the satellite, which way."""

    name: str
    frequency_hz: float
    uplink: bool


def choose_link(
    links: Sequence[Mapping[str, Any]] | None, name: str | None, uplink: bool | None
) -> Tuning:
    """Return the satellite's link named ``name``, else its first uplink or downlink.

    ``links`` are the stored entries (``satellites.links``, read by
    :func:`jointsat.operations.radio.parse_links`); the frequency is the nominal one plus
    the calibration offset. ``uplink`` None takes a named link's direction (a downlink
    without a name); given with a name, the two must agree (:class:`RadioError`).
    """
    direction = None if uplink is None else (Direction.UPLINK if uplink else Direction.DOWNLINK)
    link = find_link(parse_links(links), name, direction)
    return Tuning(link.name, link.tuned_hz, link.direction is Direction.UPLINK)


def rotator_from(document: Mapping[str, Any] | None) -> Rotator:
    """Return the rotator a station's stored model describes (``Rotator``'s fields), or the
    default one when it has none; :class:`PointingError` for a model that is not one."""
    if not document:
        return Rotator()
    unknown = sorted(set(document) - set(Rotator.__dataclass_fields__))
    if unknown:
        raise PointingError(f"the station's rotator has unknown fields: {', '.join(unknown)}")
    return Rotator(**document)
