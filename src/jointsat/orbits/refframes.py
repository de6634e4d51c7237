"""Rotate states between an OEM's reference frame and the pass engine's TEME.

The pass engine rotates TEME to Earth-fixed with its own sidereal time
(:func:`jointsat.orbits.frames.gmst82_rad`). A state given in another frame is
therefore turned into the "engine TEME" whose Earth-fixed image is the state's
true Earth-fixed position: ITRF is rotated back by that same sidereal time, and
the celestial frames (GCRF, ICRF, EME2000) go first to ITRF with the IAU
2006/2000A precession-nutation and the Earth rotation angle of ERFA (pyerfa, the
maintained C library of the IAU SOFA algorithms). The accuracy limit: UT1 is
taken equal to UTC and polar motion is zero, as no Earth-orientation data are
downloaded (at most 0.9 s of rotation, about 400 m at the equator for a LEO, and
some 10 m of polar motion on the ground); the conversion there and back is exact,
so a file written from jointsat and read again gives back its own positions.
All ITRF realisations (ITRF-93, ITRF2000, ITRF2014 ...) are taken as one frame:
they differ by centimetres. Times are split Julian dates in UTC.
"""

from __future__ import annotations

import enum

import erfa
import numpy as np

from jointsat.constants import EARTH_ROTATION_RAD_S
from jointsat.orbits.frames import gmst82_rad
from jointsat.orbits.vectors import FloatArray

__all__ = ["Frame", "frame_of", "from_teme", "to_teme"]


class Frame(enum.Enum):
    """Name the reference frames an OEM may give its states in."""

    TEME = "TEME"
    GCRF = "GCRF"
    EME2000 = "EME2000"
    ITRF = "ITRF"


_ALIASES = {"TEME": Frame.TEME, "GCRF": Frame.GCRF, "ICRF": Frame.GCRF, "EME2000": Frame.EME2000}


def frame_of(name: str) -> Frame | None:
    """Return the frame an OEM ``REF_FRAME`` names (any ITRF realisation is ITRF), or None."""
    key = name.strip().upper()
    if key.startswith(("ITRF", "ITRS")):
        return Frame.ITRF
    return _ALIASES.get(key)


def _gcrs_to_itrs(jd: FloatArray, fr: FloatArray) -> FloatArray:
    """Return the GCRS-to-ITRS matrices (T, 3, 3) at UTC times (UT1 = UTC, no polar motion)."""
    tai1, tai2 = erfa.utctai(jd, fr)
    tt1, tt2 = erfa.taitt(tai1, tai2)
    return np.asarray(erfa.c2t06a(tt1, tt2, jd, fr, 0.0, 0.0))


def _earth_to_teme(jd: FloatArray, fr: FloatArray) -> FloatArray:
    """Return the matrices (T, 3, 3) from Earth-fixed to engine TEME (the engine's GMST)."""
    g = gmst82_rad(jd, fr)
    c, s = np.cos(g), np.sin(g)
    zero, one = np.zeros_like(g), np.ones_like(g)
    return np.stack(
        [np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)],
        axis=-2,
    )


def _matrices(frame: Frame, jd: FloatArray, fr: FloatArray) -> FloatArray:
    """Return the rotations (T, 3, 3) from ``frame`` to engine TEME."""
    jd = np.atleast_1d(np.asarray(jd, dtype=float))
    fr = np.atleast_1d(np.asarray(fr, dtype=float))
    if frame is Frame.TEME:
        return np.broadcast_to(np.eye(3), (*jd.shape, 3, 3)).copy()
    to_teme = _earth_to_teme(jd, fr)
    if frame is Frame.ITRF:
        return to_teme
    matrices = to_teme @ _gcrs_to_itrs(jd, fr)
    if frame is Frame.EME2000:
        # r_J2000 = B r_GCRS with B the IAU 2006 frame bias; the reverse is its transpose.
        bias = np.asarray(erfa.bp06(jd, fr)[0])
        matrices = matrices @ np.swapaxes(bias, -1, -2)
    return np.asarray(matrices)


def to_teme(
    frame: Frame, jd: FloatArray, fr: FloatArray, r_km: FloatArray, v_km_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return engine-TEME positions and velocities ``(T, 3)`` of states given in ``frame``.

    An Earth-fixed velocity gains the Earth's rotation; the slow turning of the
    celestial frames against TEME (precession, under 1e-11 rad/s) is neglected.
    """
    m = _matrices(frame, jd, fr)
    r = np.einsum("tij,tj->ti", m, r_km)
    v = np.einsum("tij,tj->ti", m, v_km_s)
    if frame is Frame.ITRF:
        v = v + EARTH_ROTATION_RAD_S * np.stack([-r[:, 1], r[:, 0], np.zeros(len(r))], axis=-1)
    return r, v


def from_teme(
    frame: Frame, jd: FloatArray, fr: FloatArray, r_km: FloatArray, v_km_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return states ``(T, 3)`` in ``frame`` of engine-TEME states (:func:`to_teme` undone)."""
    m = np.swapaxes(_matrices(frame, jd, fr), -1, -2)
    v = np.asarray(v_km_s, dtype=float)
    if frame is Frame.ITRF:
        r_teme = np.asarray(r_km, dtype=float)
        spin = np.stack([-r_teme[:, 1], r_teme[:, 0], np.zeros(len(r_teme))], axis=-1)
        v = v - EARTH_ROTATION_RAD_S * spin
    return np.einsum("tij,tj->ti", m, r_km), np.einsum("tij,tj->ti", m, v)
