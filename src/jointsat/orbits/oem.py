"""Read and write CCSDS Orbit Ephemeris Messages (OEM 2.0, KVN and XML).

The text is parsed by ``ccsds-ndm-py`` (MPL-2.0, a maintained CCSDS NDM
library); this module checks what jointsat needs of it and turns it into an
:class:`jointsat.orbits.ephemeris.Ephemeris`: ``CENTER_NAME`` EARTH, a
``REF_FRAME`` :mod:`jointsat.orbits.refframes` knows (EME2000, GCRF, ICRF, any
ITRF, TEME), a ``TIME_SYSTEM`` of UTC, TAI, TT or GPS, any number of segments.
Covariance blocks are read past and ignored (the raw text, kept by the store,
still holds them). The writer produces OEM KVN as AWS Ground Station accepts it:
UTC, EARTH, EME2000 (or ITRF), Lagrange interpolation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import ccsds_ndm
import erfa
import numpy as np

from jointsat.constants import DAY_S
from jointsat.errors import ElementsError
from jointsat.orbits.ephemeris import DEFAULT_DEGREE, Ephemeris, EphemerisSegment
from jointsat.orbits.refframes import Frame, frame_of, from_teme, to_teme
from jointsat.orbits.vectors import FloatArray
from jointsat.timelib import format_iso, from_split_julian, split_epoch, split_julian

__all__ = ["OemSamples", "format_oem", "read_oem"]

_GPS_MINUS_TAI_S = -19.0
_TIME_SYSTEMS = ("UTC", "TAI", "TT", "GPS")


def read_oem(text: str, *, source: str = "<string>", norad_id: int | None = None) -> Ephemeris:
    """Read an OEM (KVN or XML) into an ephemeris in engine TEME.

    ``norad_id`` names the satellite; without it a numeric OBJECT_ID is taken
    as the catalog number, else 0 (an object without one, as in early
    operations). Raise :class:`ElementsError` naming the segment and the reason.
    """
    try:
        message = ccsds_ndm.Oem.from_str(text)
    except (ValueError, RuntimeError) as exc:
        raise ElementsError(f"not a readable OEM: {exc}", source=source) from None
    segments = message.segments
    if not segments:
        raise ElementsError("the OEM has no segment", source=source)
    created_jd = sum(_julian(message.header.creation_date, "UTC", source, "CREATION_DATE"))
    first = segments[0].metadata
    origin_jd = _julian(first.start_time, first.time_system, source, "START_TIME")[0]
    frames = set()
    read = []
    for number, segment in enumerate(segments, 1):
        where = f"segment {number}"
        meta = segment.metadata
        frame = _frame(meta, source, where)
        frames.add(meta.ref_frame.strip().upper())
        read.append(_segment(segment, frame, origin_jd, source, where))
    object_id = str(first.object_id).strip()
    if norad_id is None:
        norad_id = int(object_id) if object_id.isdigit() else 0
    return Ephemeris(
        norad_id=norad_id,
        name=str(first.object_name).strip(),
        object_id=object_id,
        origin_jd=float(origin_jd),
        created_jd=created_jd,
        segments=tuple(read),
        frame="/".join(sorted(frames)),
    )


def _frame(meta: ccsds_ndm.OemMetadata, source: str, where: str) -> Frame:
    if meta.center_name.strip().upper() != "EARTH":
        raise ElementsError(
            f"CENTER_NAME {meta.center_name!r} is not EARTH, the only centre jointsat knows",
            source=source,
            location=where,
        )
    frame = frame_of(meta.ref_frame)
    if frame is None:
        raise ElementsError(
            f"REF_FRAME {meta.ref_frame!r} is not one of EME2000, GCRF, ICRF, ITRF*, TEME",
            source=source,
            location=where,
        )
    if meta.time_system.strip().upper() not in _TIME_SYSTEMS:
        raise ElementsError(
            f"TIME_SYSTEM {meta.time_system!r} is not one of {', '.join(_TIME_SYSTEMS)}",
            source=source,
            location=where,
        )
    return frame


def _segment(
    segment: ccsds_ndm.OemSegment, frame: Frame, origin_jd: float, source: str, where: str
) -> EphemerisSegment:
    """Turn one OEM segment into states in engine TEME, seconds after the origin."""
    meta = segment.metadata
    system = meta.time_system.strip().upper()
    epochs = segment.data.state_vector_epochs
    if len(epochs) < 2:
        raise ElementsError("a segment needs at least two states", source=source, location=where)
    days = np.array([_days_after(origin_jd, e, system, source, where) for e in epochs])
    times_s = days * DAY_S
    if np.any(np.diff(times_s) <= 0.0):
        raise ElementsError("the states' epochs do not increase", source=source, location=where)
    states = np.asarray(segment.data.state_vector_numpy, dtype=float)[:, :6]
    if not np.all(np.isfinite(states)):
        raise ElementsError("a state is not a finite number", source=source, location=where)
    jd = np.full(days.shape, origin_jd)
    r, v = to_teme(frame, jd, days, states[:, :3], states[:, 3:6])
    start = meta.useable_start_time or meta.start_time
    stop = meta.useable_stop_time or meta.stop_time
    start_s = _days_after(origin_jd, start, system, source, where) * DAY_S
    stop_s = _days_after(origin_jd, stop, system, source, where) * DAY_S
    # The usable span never reaches beyond the states: no extrapolation.
    start_s, stop_s = max(start_s, times_s[0]), min(stop_s, times_s[-1])
    if stop_s < start_s:
        raise ElementsError("the segment's span holds no state", source=source, location=where)
    degree = meta.interpolation_degree
    return EphemerisSegment(
        times_s=times_s,
        r_teme_km=r,
        v_teme_km_s=v,
        start_s=float(start_s),
        stop_s=float(stop_s),
        degree=DEFAULT_DEGREE if degree is None else max(1, int(degree)),
    )


def _days_after(origin_jd: float, text: str, system: str, source: str, where: str) -> float:
    """Return the days from a UTC midnight to an OEM epoch, keeping the day's precision."""
    jd, fr = _julian(text, system, source, where)
    return (jd - origin_jd) + fr


def _julian(text: str, system: str, source: str, where: str) -> tuple[float, float]:
    """Return an OEM epoch in a time system as a split UTC Julian date."""
    try:
        jd, fr = split_epoch(str(text).strip())
    except ValueError as exc:
        raise ElementsError(str(exc), source=source, location=where) from None
    system = system.strip().upper()
    if system == "UTC":
        return jd, fr
    if system == "GPS":
        fr += _GPS_MINUS_TAI_S / -DAY_S
        system = "TAI"
    if system == "TT":
        jd, fr = erfa.tttai(jd, fr)
    u1, u2 = erfa.taiutc(jd, fr)
    return float(u1), float(u2)


@dataclass(frozen=True)
class OemSamples:
    """Hold states of one object sampled in engine TEME, to be written as an OEM."""

    object_name: str
    object_id: str
    jd: FloatArray
    fr: FloatArray
    r_teme_km: FloatArray
    v_teme_km_s: FloatArray


def format_oem(
    samples: OemSamples,
    *,
    created: datetime,
    frame: Frame = Frame.EME2000,
    degree: int = DEFAULT_DEGREE,
    originator: str = "JOINTSAT",
    comments: Sequence[str] = (),
) -> str:
    """Return an OEM 2.0 KVN of one segment, in ``frame``, UTC, Lagrange of ``degree``.

    Positions are written to the micrometre, velocities to the nanometre per
    second, times to the microsecond.
    """
    r, v = from_teme(frame, samples.jd, samples.fr, samples.r_teme_km, samples.v_teme_km_s)
    epochs = [_epoch_text(j, f) for j, f in zip(samples.jd, samples.fr, strict=True)]
    lines = [
        "CCSDS_OEM_VERS = 2.0",
        *(f"COMMENT {c}" for c in comments),
        f"CREATION_DATE = {_epoch_text(*split_julian(created))}",
        f"ORIGINATOR = {originator}",
        "",
        "META_START",
        f"OBJECT_NAME = {samples.object_name}",
        f"OBJECT_ID = {samples.object_id}",
        "CENTER_NAME = EARTH",
        f"REF_FRAME = {'ITRF2000' if frame is Frame.ITRF else frame.value}",
        "TIME_SYSTEM = UTC",
        f"START_TIME = {epochs[0]}",
        f"STOP_TIME = {epochs[-1]}",
        "INTERPOLATION = LAGRANGE",
        f"INTERPOLATION_DEGREE = {degree}",
        "META_STOP",
        "",
    ]
    for epoch, rr, vv in zip(epochs, r, v, strict=True):
        position = " ".join(f"{x:.9f}" for x in rr)
        velocity = " ".join(f"{x:.12f}" for x in vv)
        lines.append(f"{epoch} {position} {velocity}")
    return "\n".join(lines) + "\n"


def _epoch_text(jd: float, fr: float) -> str:
    """Return a UTC split Julian date as an OEM epoch, to the microsecond, without zone."""
    whole, day_fraction = divmod(float(fr), 1.0)
    midnight = from_split_julian(float(jd) + whole, 0.0)
    moment = midnight + timedelta(microseconds=round(day_fraction * DAY_S * 1e6))
    return format_iso(moment).removesuffix("Z")
