"""Hold a light curve as arrays: the type the reader makes and the transit search takes (pure).

:mod:`jointsat.analysis.lightcurves` reads files into it; it is here, apart from the
reader, so that the pure search need not import the file system.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

MIN_POINTS = 50
"""Refuse a light curve with fewer usable points than this: no search can use it."""


@dataclass(frozen=True, eq=False)
class LightCurve:
    """Hold the usable points of a light curve: times in BJD_TDB, flux normalised to median 1.

    ``points_read`` counts the rows of the file; ``dropped_quality`` those a quality
    flag dropped, ``dropped_nonfinite`` those then dropped for a non-finite time, flux
    or error. ``time_system`` says how the times were read.
    """

    name: str
    time_bjd_tdb: FloatArray
    flux: FloatArray
    flux_err: FloatArray
    flux_column: str
    points_read: int
    dropped_quality: int
    dropped_nonfinite: int
    time_system: str

    @property
    def points(self) -> int:
        """Return the number of usable points."""
        return int(self.time_bjd_tdb.size)

    @property
    def baseline_d(self) -> float:
        """Return the time from the first to the last point, in days."""
        return float(self.time_bjd_tdb[-1] - self.time_bjd_tdb[0])
