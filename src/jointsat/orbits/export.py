"""Write a satellite's orbit for others: an OEM sampled from it, or its element sets.

Partners' antennas and services such as AWS Ground Station take an OEM in KVN,
EME2000 (or ITRF2000), UTC, with Lagrange interpolation: :func:`sample_oem`
samples any orbit (SGP4 element sets, or an ephemeris) and
:func:`jointsat.orbits.oem.format_oem` writes it. Element sets go out through
:func:`jointsat.orbits.elements.write_elements` (OMM JSON, or TLE where one exists).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from jointsat.errors import InputError
from jointsat.orbits.oem import OemSamples
from jointsat.orbits.propagation import Orbit, error_message
from jointsat.timelib import TimeOrigin, format_readable

__all__ = ["sample_oem"]


def sample_oem(
    orbit: Orbit, object_id: str, start: datetime, end: datetime, step_s: float
) -> OemSamples:
    """Return the orbit's states every ``step_s`` from ``start`` to ``end`` (included).

    Raise :class:`InputError` at the first time the orbit cannot be predicted
    (an SGP4 failure, or outside an ephemeris' coverage): an OEM has no gaps.
    """
    if not step_s > 0.0:
        raise InputError(f"step_s {step_s} is not a positive number of seconds")
    duration_s = (end - start).total_seconds()
    if duration_s <= 0.0:
        raise InputError(f"the end {format_readable(end)} is not after the start")
    t = np.arange(0.0, duration_s + 1e-6, step_s)
    if t[-1] < duration_s:
        t = np.append(t, duration_s)
    origin = TimeOrigin.of(start)
    jd, fr = origin.julian(t)
    err, r, v = orbit.propagate(jd, fr)
    bad = np.flatnonzero(err)
    if bad.size:
        when = format_readable(origin.at(float(t[bad[0]])))
        raise InputError(
            f"cannot be predicted at {when} UTC: {error_message(int(err[bad[0]]))}",
            source=f"{orbit.name} ({orbit.norad_id})",
        )
    return OemSamples(orbit.name, object_id, jd, fr, r, v)
