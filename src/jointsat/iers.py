"""UT1 - UTC from astropy's bundled IERS tables, never downloaded.

The tables come with the ``astropy-iers-data`` package; a date past them (about a
year after the package's release) is unknown. Each 0.02 s of UT1 - UTC is about
0.1 m/s of a satellite's range rate overhead, so the Doppler tables
(``jointsat doppler``, the service's ``/contacts/{id}/doppler``) take it from here.
This is an edge module (it reads the tables' files): the pure packages never import it.
"""

from __future__ import annotations

import warnings
from datetime import datetime

__all__ = ["ut1_utc_s"]


def ut1_utc_s(when: datetime) -> float | None:
    """Return UT1 - UTC (s) at ``when`` from astropy's bundled IERS tables, or None.

    Nothing is downloaded: a time the tables (measured or predicted) do not cover, or
    an astropy that cannot read them, gives None.
    """
    try:
        from astropy.time import Time
        from astropy.utils import iers

        iers.conf.auto_download = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = iers.earth_orientation_table.get()
            value, status = table.ut1_utc(Time(when), return_status=True)
    except Exception:  # any failure to read the tables means "unknown"
        return None
    if int(status) < 0:
        return None
    return float(value.to_value("s"))
