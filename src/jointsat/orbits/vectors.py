"""Array helpers the orbit and planning engines share: array types, 3-vectors, index ranges."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
T = TypeVar("T")


def dot(a: FloatArray, b: FloatArray) -> FloatArray:
    """Return the dot products of two stacks of 3-vectors."""
    return np.asarray(a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2])


def norm(a: FloatArray) -> FloatArray:
    """Return the lengths of a stack of 3-vectors."""
    return np.sqrt(dot(a, a))


def unit(a: FloatArray) -> FloatArray:
    """Return a stack of 3-vectors scaled to unit length."""
    return np.asarray(a / norm(a)[..., None])


def angle_deg(u: FloatArray, w: FloatArray) -> FloatArray:
    """Return the angles between unit vectors, from their chord (exact near 0 degrees)."""
    chord = norm(u - w)
    return np.asarray(np.degrees(2.0 * np.arcsin(np.minimum(0.5 * chord, 1.0))))


def ranges(first: IntArray, count: IntArray) -> tuple[IntArray, IntArray]:
    """Expand ranges [first, first + count) into (range number, value) for every element."""
    owner = np.repeat(np.arange(count.size), count)
    offset = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    return owner, first[owner] + offset


def concat_fields(parts: Sequence[T], empty: T) -> T:
    """Return the array dataclasses ``parts`` joined field by field, in order; ``empty`` if none."""
    if not parts:
        return empty
    first: Any = parts[0]
    return type(empty)(
        *(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(first))
    )
