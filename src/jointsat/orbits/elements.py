"""Read and write mean-element sets: TLE, and OMM as JSON, CSV, XML and KVN.

One record, :class:`Elements`, shaped like a CCSDS/CelesTrak OMM, is used
everywhere inside jointsat; TLE is only an import and export format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sgp4.api import WGS72, Satrec

JD_1949_12_31 = 2433281.5  # sgp4init counts epochs in days from 1949 December 31 00:00 UT
JD_UNIX_EPOCH = 2440587.5
_DEG = math.pi / 180.0
_MINUTES_PER_DAY = 1440.0
_NDOT_UNITS = 1036800.0 / math.pi  # rev/day^2 -> rad/min^2 as sgp4 expects (see SGP4.cpp)
_NDDOT_UNITS = 2985984000.0 / 2.0 / math.pi  # rev/day^3 -> rad/min^3


@dataclass(frozen=True)
class Elements:
    """Hold one SGP4 mean-element set of one satellite, with OMM's fields.

    The epoch is kept as a split Julian date (``epoch_jd`` at midnight,
    ``epoch_fr`` the fraction of the day, UTC) so that no precision is lost
    between a TLE's day-of-year and the propagator.
    """

    object_name: str
    object_id: str
    norad_cat_id: int
    epoch_jd: float
    epoch_fr: float
    mean_motion_rev_per_day: float
    eccentricity: float
    inclination_deg: float
    raan_deg: float
    arg_of_pericenter_deg: float
    mean_anomaly_deg: float
    bstar: float
    mean_motion_dot: float
    mean_motion_ddot: float
    ephemeris_type: int = 0
    classification_type: str = "U"
    element_set_no: int = 999
    rev_at_epoch: int = 0

    @property
    def epoch(self) -> datetime:
        """Return the epoch as a timezone-aware UTC datetime (to the microsecond)."""
        days = (self.epoch_jd - JD_UNIX_EPOCH) + self.epoch_fr
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=days)

    @property
    def epoch_days_since_1949(self) -> float:
        """Return the epoch as sgp4init wants it: days since 1949 December 31 00:00 UT."""
        return (self.epoch_jd - JD_1949_12_31) + self.epoch_fr

    def satrec(self) -> Satrec:
        """Build the sgp4 propagator for this element set (WGS-72, improved mode)."""
        sat = Satrec()
        satnum = self.norad_cat_id if self.norad_cat_id <= 339999 else 0
        sat.sgp4init(
            WGS72,
            "i",
            satnum,
            self.epoch_days_since_1949,
            self.bstar,
            self.mean_motion_dot / _NDOT_UNITS,
            self.mean_motion_ddot / _NDDOT_UNITS,
            self.eccentricity,
            self.arg_of_pericenter_deg * _DEG,
            self.inclination_deg * _DEG,
            self.mean_anomaly_deg * _DEG,
            self.mean_motion_rev_per_day * 2.0 * math.pi / _MINUTES_PER_DAY,
            self.raan_deg * _DEG,
        )
        return sat
