"""Say what a result was made from: one function per kind of result, its sources as parts.

A schedule or a plan carries its provenance: the inputs that made it (files by their
SHA-256, or the store's element sets and pass prediction), what it re-planned, and the
version of jointsat. ``schedule_provenance`` and ``plan_provenance`` put the parts
together in the order the documents have always had; the functions below them build
the parts. Products carry no provenance of this kind (their metadata names their
source). Pure: the caller reads the files and the clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from jointsat import __version__
from jointsat.orbits.freshness import Freshness, StaleRule
from jointsat.timelib import format_iso


def schedule_provenance(
    *sources: Mapping[str, Any], replanned_at: datetime | None = None
) -> dict[str, Any]:
    """Return a schedule's provenance: its sources, jointsat's version, when it re-planned."""
    found = _with_version(sources)
    if replanned_at is not None:
        found["replanned_at"] = replanned_at.isoformat()
    return found


def plan_provenance(
    *sources: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
    propagation_problems: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return a plan's provenance: its sources, jointsat's version, the planner's settings."""
    found = _with_version(sources)
    if settings is not None:
        found["settings"] = dict(settings)
    if propagation_problems is not None:
        found["propagation_problems"] = list(propagation_problems)
    return found


def _with_version(sources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for source in sources:
        found.update(source)
    found["jointsat"] = __version__
    return found


def sha256_hex(text: str) -> str:
    """Return the SHA-256 of a text's UTF-8 bytes, in hexadecimal."""
    return hashlib.sha256(text.encode()).hexdigest()


def problem_file(text: str) -> dict[str, Any]:
    """Return the part naming a problem file: the SHA-256 of its text."""
    return {"problem_sha256": sha256_hex(text)}


def file_replan(
    schedule_file: str, outage: tuple[str, datetime, datetime], now: datetime
) -> dict[str, Any]:
    """Return the part of a re-plan from files: the schedule replaced, the outage, ``now``."""
    station, start, end = outage
    return {
        "replaces": schedule_file,
        "outage": {"station": station, "start": format_iso(start), "end": format_iso(end)},
        "now": format_iso(now),
    }


def element_files(texts: Mapping[str, str]) -> dict[str, Any]:
    """Return the part naming the element files (path -> text): each one's SHA-256."""
    return {"elements": {path: sha256_hex(text) for path, text in texts.items()}}


def schedule_file(path: str, text: str, downlinks_added: int) -> dict[str, Any]:
    """Return the part naming the schedule file whose contacts a plan used as downlinks."""
    return {
        "schedule": {"file": path, "sha256": sha256_hex(text), "downlinks_added": downlinks_added}
    }


class Prediction(Protocol):
    """A stored pass prediction: its id, what it was computed from, and by what."""

    id: int
    fingerprint: str
    engine: str


def pass_prediction(
    prediction: Prediction, element_set_ids: Sequence[int], station_ids: Sequence[int]
) -> dict[str, Any]:
    """Return the part naming the element sets and stations used, and the pass prediction.

    The prediction may cover more of the network than the result used (it is the whole
    network's); the ids name what the result was made from.
    """
    return {
        "element_set_ids": list(element_set_ids),
        "station_ids": list(station_ids),
        "pass_prediction": {
            "id": prediction.id,
            "fingerprint": prediction.fingerprint,
            "engine": prediction.engine,
        },
    }


def elements_freshness(found: Sequence[Freshness], rule: StaleRule) -> dict[str, Any]:
    """Return the part saying how old each satellite's elements get over the window (days).

    ``elements_age_days`` names every satellite by catalog number,
    ``stale_element_sets`` those past the rule's threshold, ``stale_after_days`` the rule.
    """
    return {
        "elements_age_days": {str(f.norad_id): round(f.elements_age_days, 3) for f in found},
        "stale_element_sets": {
            str(f.norad_id): round(f.elements_age_days, 3) for f in found if f.stale
        },
        "stale_after_days": {"leo": rule.leo_days, "above_leo": rule.above_leo_days},
    }
