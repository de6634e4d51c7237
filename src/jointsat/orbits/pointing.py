"""Plan how a station's rotator points its antenna through one pass, chosen before AOS.

Pure numerics on numpy arrays: no I/O and no clock. A pass is given as the target's
azimuth and elevation (degrees, as :func:`jointsat.orbits.tracks.look_angles` gives
them) at times in seconds from the pass's start; a :class:`Rotator` says what the
mount can do. :func:`plan_pass` returns a :class:`PointingPlan`: the axis angles to
command, where the antenna then points against where the satellite is, and for how
long the rates make it lag by more than half a beamwidth.

The plan never unwinds during a pass. An azimuth axis with stops (0..450, -180..540
degrees) cannot turn through 360 degrees for free, so the whole pass's azimuth track
is unwrapped and shifted by a whole turn to lie within the stops before AOS. Where
no turn fits and the mount flips over (elevation beyond 90 degrees), the pass is
tracked from the other side: azimuth + 180, elevation 180 - el, the same direction.
Near the zenith the target's azimuth swings by up to 180 degrees in seconds (the
keyhole of an az-el mount); a flip-over mount then holds its azimuth on the pass's
vertical plane and lets the elevation sweep through the zenith instead
(:attr:`PointingMode.OVER_THE_TOP`). Each way that fits is simulated with the axes'
rate limits and the one that keeps the antenna on the target longest is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike

from jointsat.errors import PointingError
from jointsat.orbits.vectors import FloatArray

__all__ = [
    "PointingMode",
    "PointingPlan",
    "Rotator",
    "angular_separation_deg",
    "plan_pass",
]


class PointingMode(Enum):
    """How the plan tracks a pass: which of the two ways of pointing a direction it uses.

    An az-el mount whose elevation goes past 90 degrees reaches every direction
    ``(az, el)`` also as ``(az + 180, 180 - el)``.
    """

    PLAIN = "plain"
    """Azimuth follows the target's, elevation is the target's (at most 90 degrees)."""
    FLIPPED = "flipped"
    """The whole pass from the other side: azimuth + 180, elevation 180 - el."""
    OVER_THE_TOP = "over_the_top"
    """A keyhole pass: the azimuth holds the pass's vertical plane through the fast
    swing near the zenith and the elevation sweeps over 90 degrees instead."""


@dataclass(frozen=True)
class Rotator:
    """A station's az-el rotator: its axes' ranges and rates, and the antenna's beamwidth.

    Azimuths are axis angles from north through east: a range of 0..450 or -180..540
    degrees reaches some directions by two axis angles a turn apart; it must span at
    least 360 degrees. Elevation goes up to 90 degrees, or to 180 for a mount that
    flips over. Rates are each axis's top speed (deg/s); ``beamwidth_deg`` the
    antenna's full half-power beamwidth.
    """

    azimuth_min_deg: float = 0.0
    azimuth_max_deg: float = 450.0
    elevation_min_deg: float = 0.0
    elevation_max_deg: float = 90.0
    azimuth_rate_deg_s: float = 6.0
    elevation_rate_deg_s: float = 6.0
    beamwidth_deg: float = 2.0

    def __post_init__(self) -> None:
        for name in (
            "azimuth_min_deg",
            "azimuth_max_deg",
            "elevation_min_deg",
            "elevation_max_deg",
            "azimuth_rate_deg_s",
            "elevation_rate_deg_s",
            "beamwidth_deg",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PointingError(f"rotator {name} must be a number, not {value!r}")
            if not math.isfinite(value):
                raise PointingError(f"rotator {name} must be finite, not {value!r}")
        span = self.azimuth_max_deg - self.azimuth_min_deg
        if span < 360.0:
            raise PointingError(
                f"rotator azimuth range {self.azimuth_min_deg:g}..{self.azimuth_max_deg:g} deg "
                f"spans {span:g} deg: it must span at least 360"
            )
        if not -90.0 <= self.elevation_min_deg < 90.0:
            raise PointingError(
                f"rotator elevation_min_deg {self.elevation_min_deg:g} must lie in [-90, 90)"
            )
        if not self.elevation_min_deg < self.elevation_max_deg <= 180.0:
            raise PointingError(
                f"rotator elevation_max_deg {self.elevation_max_deg:g} must lie in "
                f"({self.elevation_min_deg:g}, 180]"
            )
        for name in ("azimuth_rate_deg_s", "elevation_rate_deg_s"):
            if getattr(self, name) <= 0.0:
                raise PointingError(f"rotator {name} must be positive, not {getattr(self, name)!r}")
        if not 0.0 < self.beamwidth_deg <= 180.0:
            raise PointingError(
                f"rotator beamwidth_deg {self.beamwidth_deg:g} must lie in (0, 180]"
            )

    @property
    def flips(self) -> bool:
        """Say whether the elevation axis goes past the zenith (a flip-over mount)."""
        return self.elevation_max_deg > 90.0


@dataclass(frozen=True, eq=False)
class PointingPlan:
    """The pointing of one pass, sample by sample, and what it costs.

    ``azimuth_deg`` and ``elevation_deg`` are the axis angles to command: the
    rotator's own motion, each axis moving toward the chosen track at most its rate,
    so consecutive commands never ask more than the axes can do. The azimuth stays
    within the rotator's stops (possibly beyond 360), the elevation within its range
    (past 90 when flipped). ``target_azimuth_deg`` ([0, 360)) and
    ``target_elevation_deg`` are where the satellite is; ``lag_deg`` the great-circle
    angle between the two directions. ``preposition_s`` is how long before AOS the
    rotator must leave its parking position to be on the AOS position at AOS;
    ``lag_over_half_beam_s`` how long the target is outside half the beamwidth
    (linear between samples).
    """

    time_s: FloatArray
    azimuth_deg: FloatArray
    elevation_deg: FloatArray
    target_azimuth_deg: FloatArray
    target_elevation_deg: FloatArray
    lag_deg: FloatArray
    mode: PointingMode
    preposition_s: float
    max_lag_deg: float
    lag_over_half_beam_s: float

    @property
    def flipped(self) -> bool:
        """Say whether the plan points from the other side over the zenith at any time."""
        return self.mode is not PointingMode.PLAIN


def angular_separation_deg(
    az1_deg: ArrayLike, el1_deg: ArrayLike, az2_deg: ArrayLike, el2_deg: ArrayLike
) -> FloatArray:
    """Return the great-circle angle (deg) between directions given as azimuth and elevation.

    Elevations past 90 degrees are directions over the zenith: ``(az, el)`` and
    ``(az + 180, 180 - el)`` are the same direction. Computed from unit vectors with
    ``atan2(|u x v|, u . v)``, accurate at small and large angles alike.
    """
    u = _unit(az1_deg, el1_deg)
    v = _unit(az2_deg, el2_deg)
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    return np.asarray(np.degrees(np.arctan2(cross, np.sum(u * v, axis=-1))))


def plan_pass(
    times_s: ArrayLike,
    target_az_deg: ArrayLike,
    target_el_deg: ArrayLike,
    rotator: Rotator,
    *,
    park_az_deg: float = 0.0,
    park_el_deg: float = 90.0,
) -> PointingPlan:
    """Plan the rotator's pointing through one pass, never unwinding the azimuth during it.

    ``times_s`` (increasing, seconds from the pass's start), ``target_az_deg`` and
    ``target_el_deg`` are the target's track, sampled densely enough for the rates to
    be read from it (a second is plenty in low Earth orbit). The rotator waits at
    ``park_az_deg`` / ``park_el_deg`` (axis angles within its ranges) before the pass.

    Every way of tracking that needs no unwinding is tried: the unwrapped azimuth
    shifted by each whole turn that fits the stops (or, where none fits, the turn
    that fits best, the antenna then resting on a stop), plainly and, for a flip-over
    mount, flipped and over the top (:class:`PointingMode`). Each is simulated from
    the AOS position with each axis moving toward its command at most ``rate * dt``
    per step. The plan is the one with the least time outside half the beamwidth,
    then the least worst lag (within a twentieth of the beamwidth), then the
    plainest mode, then the shortest pre-positioning.
    """
    t, az, el = _check_track(times_s, target_az_deg, target_el_deg)
    _check_park(park_az_deg, park_el_deg, rotator)
    half_beam = rotator.beamwidth_deg / 2.0
    tried: list[tuple[float, float, int, float, PointingPlan]] = []
    for preference, (mode, az_cmd, el_cmd) in enumerate(_tracks(t, az, el, rotator)):
        az_cmd = np.clip(az_cmd, rotator.azimuth_min_deg, rotator.azimuth_max_deg)
        el_cmd = np.clip(el_cmd, rotator.elevation_min_deg, rotator.elevation_max_deg)
        axis_az, axis_el = _follow(t, az_cmd, el_cmd, rotator)
        lag = angular_separation_deg(axis_az, axis_el, az, el)
        preposition_s = max(
            abs(float(axis_az[0]) - park_az_deg) / rotator.azimuth_rate_deg_s,
            abs(float(axis_el[0]) - park_el_deg) / rotator.elevation_rate_deg_s,
        )
        plan = PointingPlan(
            time_s=t,
            azimuth_deg=axis_az,
            elevation_deg=axis_el,
            target_azimuth_deg=np.mod(az, 360.0),
            target_elevation_deg=el,
            lag_deg=lag,
            mode=mode,
            preposition_s=preposition_s,
            max_lag_deg=float(lag.max()),
            lag_over_half_beam_s=_time_above(t, lag, half_beam),
        )
        tried.append((plan.lag_over_half_beam_s, plan.max_lag_deg, preference, preposition_s, plan))
    least_out = min(entry[0] for entry in tried)
    pool = [entry for entry in tried if entry[0] <= least_out + 1e-9]
    least_lag = min(entry[1] for entry in pool)
    pool = [entry for entry in pool if entry[1] <= least_lag + rotator.beamwidth_deg / 20.0]
    return min(pool, key=lambda entry: (_RANK[entry[4].mode], entry[3], entry[2]))[4]


_RANK = {PointingMode.PLAIN: 0, PointingMode.FLIPPED: 1, PointingMode.OVER_THE_TOP: 2}


def _unit(az_deg: ArrayLike, el_deg: ArrayLike) -> FloatArray:
    """Return east-north-up unit vectors; an elevation past 90 points over the zenith."""
    a = np.radians(np.asarray(az_deg, dtype=float))
    e = np.radians(np.asarray(el_deg, dtype=float))
    return np.stack([np.cos(e) * np.sin(a), np.cos(e) * np.cos(a), np.sin(e)], axis=-1)


def _check_track(
    times_s: ArrayLike, az_deg: ArrayLike, el_deg: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    arrays = []
    for name, values in (
        ("times_s", times_s),
        ("target_az_deg", az_deg),
        ("target_el_deg", el_deg),
    ):
        try:
            array = np.array(values, dtype=float)
        except (TypeError, ValueError) as exc:
            raise PointingError(f"{name} must be numbers: {exc}") from None
        if array.ndim != 1 or array.size == 0:
            raise PointingError(f"{name} must be a non-empty 1-D array, not shape {array.shape}")
        if not np.isfinite(array).all():
            raise PointingError(f"{name} holds a non-finite value")
        arrays.append(array)
    t, az, el = arrays
    if not t.size == az.size == el.size:
        raise PointingError(
            f"times_s, target_az_deg and target_el_deg differ in length: "
            f"{t.size}, {az.size}, {el.size}"
        )
    if (np.diff(t) <= 0.0).any():
        raise PointingError("times_s must increase strictly")
    if (np.abs(el) > 90.0).any():
        raise PointingError("target_el_deg must lie in [-90, 90]")
    return t, az, el


def _check_park(az_deg: float, el_deg: float, rotator: Rotator) -> None:
    if not (math.isfinite(az_deg) and math.isfinite(el_deg)):
        raise PointingError(f"parking position {az_deg!r}, {el_deg!r} must be finite")
    if not rotator.azimuth_min_deg <= az_deg <= rotator.azimuth_max_deg:
        raise PointingError(
            f"parking azimuth {az_deg:g} deg is outside the rotator's "
            f"{rotator.azimuth_min_deg:g}..{rotator.azimuth_max_deg:g}"
        )
    if not rotator.elevation_min_deg <= el_deg <= rotator.elevation_max_deg:
        raise PointingError(
            f"parking elevation {el_deg:g} deg is outside the rotator's "
            f"{rotator.elevation_min_deg:g}..{rotator.elevation_max_deg:g}"
        )


def _turns(track: FloatArray, period: float, rotator: Rotator) -> list[float]:
    """Return the shifts (multiples of ``period``) putting the track within the stops.

    Where none does, the two shifts on either side, each overrunning one stop: the
    antenna then rests on that stop for part of the pass, which the lag shows.
    """
    low, high = float(track.min()), float(track.max())
    first = math.ceil((rotator.azimuth_min_deg - low) / period)
    last = math.floor((rotator.azimuth_max_deg - high) / period)
    if first > last:
        first, last = last, first
    return [k * period for k in range(first, last + 1)]


def _tracks(
    t: FloatArray, az: FloatArray, el: FloatArray, rotator: Rotator
) -> Iterator[tuple[PointingMode, FloatArray, FloatArray]]:
    """Yield every way of tracking the pass without unwinding: mode, axis azimuth, elevation.

    Each way is a centre line for the azimuth axis (the target's vertical plane), held
    to the axis's rate by :func:`_hold`; the elevation then points within that plane.
    """
    unwrapped = np.unwrap(az, period=360.0)
    centres = [(PointingMode.PLAIN, unwrapped, 360.0)]
    if rotator.flips:
        centres.append((PointingMode.FLIPPED, unwrapped + 180.0, 360.0))
        # The vertical plane through the target turns by up to 180 degrees near the
        # zenith. Over the top, the plane is taken as it is after TCA reversed (the
        # elevation past 90 on the far side), so the centre line turns back by that
        # much at TCA and the axis can stay near the pass's plane throughout.
        # (From the azimuth unwrapped by whole turns: sampled near the zenith, the
        # plane can turn by more than 90 degrees between samples.)
        tca = int(np.argmax(el))
        turn = 180.0 * round((unwrapped[-1] - unwrapped[0]) / 180.0)
        if turn:
            over = unwrapped - np.where(np.arange(el.size) > tca, turn, 0.0)
            centres.append((PointingMode.OVER_THE_TOP, over, 180.0))
    for mode, centre, period in centres:
        held = _hold(t, centre, el, rotator.azimuth_rate_deg_s)
        for shift in _turns(held, period, rotator):
            axis_az = held + shift
            along = np.cos(np.radians(el)) * np.cos(np.radians(az - axis_az))
            axis_el = np.degrees(np.arctan2(np.sin(np.radians(el)), along))
            axis_el = np.where(axis_el < -90.0, axis_el + 360.0, axis_el)  # below far horizon
            yield mode, axis_az, axis_el


def _hold(t: FloatArray, centre: FloatArray, el: FloatArray, rate: float) -> FloatArray:
    """Return an azimuth axis path within ``rate`` that keeps the pointing error least.

    With the axis ``d`` degrees off the target's vertical plane, the best pointing
    within the axis's plane misses by ``asin(cos(el) |sin d|)``: near the zenith the
    axis may lag far, low down it may not. Where the centre line turns faster than
    the rate, the path is the minimax one over a window around the fast part: the
    least error bound ``e`` (by bisection) for which a path within the tube
    ``|d| <= asin(sin(e) / cos(el))`` exists at the rate (reachable intervals forward
    in time, then a path back through them, nearest the centre line). The path
    therefore starts turning before the target does.
    """
    if t.size < 2:
        return centre.copy()
    fast = np.flatnonzero(np.abs(np.diff(centre)) / np.diff(t) > rate)
    if fast.size == 0:
        return centre.copy()
    margin_s = 180.0 / rate
    first = int(np.searchsorted(t, t[fast[0]] - margin_s))
    last = int(np.searchsorted(t, t[fast[-1] + 1] + margin_s, side="right")) - 1
    window = slice(first, last + 1)
    reach = (np.diff(t[window]) * rate).tolist()
    mid = centre[window]
    cos_el = np.maximum(np.cos(np.radians(el[window])), 1e-12)
    mid_list = mid.tolist()

    def path(error_deg: float) -> list[float] | None:
        width = np.degrees(np.arcsin(np.minimum(1.0, math.sin(math.radians(error_deg)) / cos_el)))
        width[0] = width[-1] = 0.0  # the window's ends stay on the centre line
        lows, highs = (mid - width).tolist(), (mid + width).tolist()
        lo, hi = lows[0], highs[0]
        bounds = [(lo, hi)]
        for low, high, step in zip(lows[1:], highs[1:], reach, strict=True):
            lo, hi = max(low, lo - step), min(high, hi + step)
            if lo > hi:
                return None
            bounds.append((lo, hi))
        x = min(max(mid_list[-1], bounds[-1][0]), bounds[-1][1])
        out = [x]
        for (lo, hi), step, c in zip(bounds[-2::-1], reach[::-1], mid_list[-2::-1], strict=True):
            x = min(max(c, lo, x - step), hi, x + step)
            out.append(x)
        return out[::-1]

    best = path(90.0)
    if best is None:
        return centre.copy()
    low_deg, high_deg = 0.0, 90.0
    while high_deg - low_deg > 1e-3:
        trial = (low_deg + high_deg) / 2.0
        found = path(trial)
        if found is None:
            low_deg = trial
        else:
            high_deg, best = trial, found
    held = centre.copy()
    held[window] = best
    return held


def _follow(
    t: FloatArray, az_cmd: FloatArray, el_cmd: FloatArray, rotator: Rotator
) -> tuple[FloatArray, FloatArray]:
    """Return the axes' angles moving toward the commands at their rates, from the first."""
    step = np.diff(t)
    az_steps = (step * rotator.azimuth_rate_deg_s).tolist()
    el_steps = (step * rotator.elevation_rate_deg_s).tolist()
    a, e = float(az_cmd[0]), float(el_cmd[0])
    out_az, out_el = [a], [e]
    for target_a, target_e, da, de in zip(
        az_cmd[1:].tolist(), el_cmd[1:].tolist(), az_steps, el_steps, strict=True
    ):
        a += min(max(target_a - a, -da), da)
        e += min(max(target_e - e, -de), de)
        out_az.append(a)
        out_el.append(e)
    return np.array(out_az), np.array(out_el)


def _time_above(t: FloatArray, value: FloatArray, threshold: float) -> float:
    """Return how long ``value``, linear between samples, is above ``threshold``."""
    if t.size < 2:
        return 0.0
    a, b = value[:-1] - threshold, value[1:] - threshold
    dt = np.diff(t)
    both = (a > 0) & (b > 0)
    one = (a > 0) != (b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.where(one, dt * np.maximum(a, b) / np.abs(b - a), 0.0)
    return float(dt[both].sum() + part.sum())
