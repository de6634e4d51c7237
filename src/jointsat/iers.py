"""UT1 - UTC from the IERS table bundled with astropy, never downloaded.

The table is ``finals2000A.all`` (IERS Rapid Service, Bulletin A: measured values,
then about a year of predictions) from the ``astropy-iers-data`` package; a date past
it is unknown. Each 0.02 s of UT1 - UTC is about 0.1 m/s of a satellite's range rate
overhead, so the Doppler tables (``jointsat doppler``, the service's
``/contacts/{id}/doppler``) take it from here. The file is read directly (its columns
are fixed, IERS ``readme.finals2000A``): astropy's reader costs about 2 s per process,
this one about 0.05 s. This is an edge module (it reads a file): the pure packages
never import it.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import numpy as np

__all__ = ["ut1_utc_s"]

MJD_UNIX_EPOCH = 40587.0  # 1970-01-01 as a Modified Julian Date
# The columns (0-based slices) of finals2000A.all: the MJD, and Bulletin A's UT1 - UTC.
MJD_COLUMNS = slice(7, 15)
UT1_UTC_COLUMNS = slice(58, 68)


@functools.cache
def _table() -> tuple[np.ndarray, np.ndarray] | None:
    """Return the table's days (MJD) and UT1 - UTC (s) where it gives one, or None."""
    try:
        import astropy_iers_data

        with open(astropy_iers_data.IERS_A_FILE, encoding="ascii") as f:
            lines = f.read().splitlines()
    except (ImportError, OSError, UnicodeDecodeError):
        return None
    days, values = [], []
    for line in lines:
        value = line[UT1_UTC_COLUMNS].strip()
        if not value:
            break  # the predictions end: the rest of the file has no UT1 - UTC
        try:
            days.append(float(line[MJD_COLUMNS]))
            values.append(float(value))
        except ValueError:
            return None
    if len(days) < 2:
        return None
    return np.array(days), np.array(values)


def ut1_utc_s(when: datetime) -> float | None:
    """Return UT1 - UTC (s) at ``when`` (aware) from the bundled table, or None past it.

    Linear between the table's days; over a day that ends with a leap second, the
    second's jump is left out until midnight (UT1 - UTC steps by 1 s there).
    """
    table = _table()
    if table is None:
        return None
    days, values = table
    mjd = when.astimezone(UTC).timestamp() / 86400.0 + MJD_UNIX_EPOCH
    k = int(np.searchsorted(days, mjd, side="right")) - 1
    if k < 0 or k >= days.size - 1:
        return None
    step = values[k + 1] - values[k]
    step -= round(step)  # a leap second at the day's end: not part of the day's drift
    fraction = (mjd - days[k]) / (days[k + 1] - days[k])
    return float(values[k] + step * fraction)
