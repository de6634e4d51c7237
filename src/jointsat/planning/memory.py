"""Follow a satellite's on-board memory through its observations and downlink contacts.

Two readings of the same rules (docs/planning.md):

* ``simulate`` is the physical process. Each observation writes at the imaging rate
  while it lasts; during a downlink contact the satellite sends, at the downlink
  rate, data whose observation has ended. The memory must never hold more than its
  capacity. The checker and the plan's figures use it.
* ``accounted`` is the planner's conservative book-keeping, linear in the choices so
  that CP-SAT can use it: an observation's whole volume counts from its start; a
  contact's downlink counts only from the contact's end, and takes only data whose
  observation ended before the contact began. Whatever it accepts the physical
  process accepts too (it never holds less, and never sends more).

Times are seconds after the horizon's start; volumes megabits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jointsat.orbits.vectors import FloatArray


@dataclass(frozen=True)
class Level:
    """The memory's peak and what is left on board at the end, in megabits."""

    peak_mbit: float
    left_mbit: float


def accounted(
    initial_mbit: float,
    start_s: FloatArray,
    end_s: FloatArray,
    volume_mbit: FloatArray,
    contact_start_s: FloatArray,
    contact_end_s: FloatArray,
    contact_mbit: FloatArray,
) -> Level:
    """Return the peak and final level of the planner's book-keeping.

    Contacts (sorted, not overlapping) send as much as they may, as early as they
    may: that keeps every later level lowest. With U_k the data ended before contact
    k starts and P_k the contacts' capacities so far, the data sent by the end of
    contact k is D_k = min(D_(k-1) + c_k, U_k) = P_k + min(0, min_(j<=k) (U_j - P_j)).
    """
    by_start = np.sort(start_s)
    by_end = np.sort(end_s)
    volume_by_start = np.concatenate([[0.0], np.cumsum(volume_mbit[np.argsort(start_s)])])
    volume_by_end = np.concatenate([[0.0], np.cumsum(volume_mbit[np.argsort(end_s)])])
    total = initial_mbit + float(volume_by_start[-1])
    if contact_start_s.size == 0:
        return Level(total, total)
    ready = initial_mbit + volume_by_end[np.searchsorted(by_end, contact_start_s, side="right")]
    capacity = np.cumsum(contact_mbit)
    sent = capacity + np.minimum(0.0, np.minimum.accumulate(ready - capacity))
    sent_before = np.concatenate([[0.0], sent[:-1]])
    started = initial_mbit + volume_by_start[np.searchsorted(by_start, contact_end_s, side="left")]
    peak = max(float(np.max(started - sent_before)), total - float(sent[-1]))
    return Level(peak, total - float(sent[-1]))


def simulate(
    initial_mbit: float,
    imaging_rate_mbps: float,
    downlink_rate_mbps: float,
    looks: list[tuple[float, float]],
    contacts: list[tuple[float, float]],
) -> Level:
    """Return the peak and final level of the physical process.

    ``looks`` are the (start, end) of every imaging look; ``contacts`` those of the
    downlinks. Between consecutive events (a look or contact starting or ending)
    the level changes linearly, so its peak is at an event.
    """
    events = np.unique(np.array([t for span in (*looks, *contacts) for t in span], dtype=float))
    middle = 0.5 * (events[:-1] + events[1:])
    recording = _active(looks, middle) * imaging_rate_mbps  # looks may overlap if invalid
    sending = _active(contacts, middle) > 0
    ended: dict[float, float] = {}
    for a, b in looks:
        ended[b] = ended.get(b, 0.0) + imaging_rate_mbps * (b - a)
    level = ready = initial_mbit  # ready: data of ended looks not yet sent
    peak = level
    for k, dt in enumerate(np.diff(events).tolist()):
        sent = min(ready, downlink_rate_mbps * dt) if sending[k] else 0.0
        ready += ended.get(float(events[k + 1]), 0.0) - sent
        level += float(recording[k]) * dt - sent
        peak = max(peak, level)
    return Level(peak, level)


def _active(spans: list[tuple[float, float]], times: FloatArray) -> FloatArray:
    """Return how many of the spans contain each time."""
    starts = np.sort([a for a, _ in spans])
    ends = np.sort([b for _, b in spans])
    begun = np.searchsorted(starts, times, side="right")
    over = np.searchsorted(ends, times, side="right")
    return (begun - over).astype(float)
