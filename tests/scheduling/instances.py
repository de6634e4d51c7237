"""Random scheduling problems for the tests: small enough for an exact MILP oracle."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from jointsat.scheduling.problem import Problem

T0 = datetime(2024, 5, 10, tzinfo=UTC)
DAY_S = 86_400.0
SHARES = ([0.5, 0.3, 0.2], [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.5], [0.7, 0.3])


def random_document(
    seed: int,
    *,
    passes: int = 20,
    satellites: int = 4,
    stations: int = 3,
    span_s: float = 4 * 3600,
) -> dict[str, Any]:
    """Return a random problem document: joint satellites, demands, turnarounds, outages.

    Passes crowd into the first ``span_s`` seconds of a one-day horizon, so that they
    compete for stations and the policies differ.
    """
    rng = random.Random(seed)
    shares = rng.choice(SHARES)
    partners = [
        {"id": f"P{k}", "share": w, "priority": rng.randrange(2)} for k, w in enumerate(shares)
    ]
    ids = [p["id"] for p in partners]

    def at(seconds: float) -> str:
        return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    sats = []
    for k in range(satellites):
        owners = rng.sample(ids, rng.choice([1, 1, 2]))
        fractions = [1.0] if len(owners) == 1 else [0.6, 0.4]
        sats.append(
            {
                "id": f"S{k}",
                "operators": dict(zip(owners, fractions, strict=True)),
                "demand_s": rng.choice([None, 600.0, 1500.0, 3000.0]),
            }
        )
    sites = []
    for k in range(stations):
        outage = rng.uniform(0, span_s)
        sites.append(
            {
                "id": f"G{k}",
                "owner": rng.choice(ids),
                "turnaround_s": rng.choice([0.0, 60.0, 300.0]),
                "unavailable": [{"start": at(outage), "end": at(outage + 3600)}]
                if rng.random() < 0.3
                else [],
            }
        )
    windows = []
    for i in range(passes):
        start = rng.uniform(0, span_s)
        windows.append(
            {
                "id": f"p{i}",
                "satellite": f"S{rng.randrange(satellites)}",
                "station": f"G{rng.randrange(stations)}",
                "start": at(start),
                "end": at(start + rng.uniform(120, 900)),
                "max_elevation_deg": rng.uniform(10, 90),
            }
        )
    return {
        "horizon": {"start": at(0), "end": at(DAY_S)},
        "partners": partners,
        "satellites": sats,
        "stations": sites,
        "passes": windows,
        "options": {
            "min_contact_s": rng.choice([0.0, 200.0]),
            "satellite_single_link": rng.random() < 0.8,
        },
    }


def random_problem(seed: int, **sizes: float) -> Problem:
    """Return a random problem (see random_document)."""
    return Problem.from_dict(random_document(seed, **sizes))
