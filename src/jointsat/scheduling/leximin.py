"""Write the leximin's levels for CP-SAT: the sum of the k smallest of some values.

Maximising, for k = 1, 2, ..., the sum of the k smallest values, each optimum kept
for the next, maximises the sorted vector lexicographically (Ogryczak and
Sliwinski, 2003). The sum of the k smallest is max over t of k*t - sum max(0, t - v),
which is linear once each max(0, t - v) is a variable bounded below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ortools.sat.python import cp_model


def smallest_sum(
    model: cp_model.CpModel, values: Sequence[Any], top: int, k: int, name: str
) -> tuple[Any, cp_model.IntVar | None, list[cp_model.IntVar]]:
    """Return an expression whose maximum is the sum of the k smallest values.

    ``values`` are linear expressions between 0 and ``top``. Also return the
    threshold t and the excesses max(0, t - v), to hint them (None and [] when k
    counts every value: the sum itself).
    """
    if k == len(values):
        return sum(values), None, []
    t = model.new_int_var(0, top, f"t{k}_{name}")
    excess = []
    for j, value in enumerate(values):
        d = model.new_int_var(0, top, f"d{k}_{name}_{j}")
        model.add(d >= t - value)
        excess.append(d)
    return k * t - sum(excess), t, excess
