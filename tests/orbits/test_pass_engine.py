"""Test the pass engine's inner choices against each other: results must not depend on them.

The spatial index of the stations is checked against the dense cull over every
(satellite, sample, station) triple, and the scan of a satellite against scans
where it shares its chunk with other satellites (a cluster splits the work its
own way, and must get the same passes bit for bit).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from tests.support.data import orbit_file

from jointsat.orbits import pass_scan
from jointsat.orbits.elements import Elements, parse_elements
from jointsat.orbits.pass_scan import Sites, Window, plan_chunks, scan
from jointsat.orbits.passes import Passes, find_passes
from jointsat.orbits.propagation import build_orbits
from jointsat.orbits.stations import Station
from jointsat.timelib import TimeOrigin

START = datetime(2024, 5, 10, tzinfo=UTC)
ISS = parse_elements(orbit_file("stations.tle").read_text()).elements[0]
COLUMNS = [f.name for f in dataclasses.fields(Passes)]


def satellites(rng: np.random.Generator) -> list[Elements]:
    """Return LEO, MEO, GEO and Molniya element sets with random planes and phases."""
    kinds = {
        "LEO": (lambda: rng.uniform(13.5, 16.0), lambda: rng.uniform(0.0, 0.02), 8),
        "MEO": (lambda: rng.uniform(1.8, 4.5), lambda: rng.uniform(0.0, 0.1), 2),
        "GEO": (lambda: rng.uniform(0.95, 1.05), lambda: rng.uniform(0.0, 0.01), 2),
        "Molniya": (lambda: 2.006, lambda: rng.uniform(0.69, 0.74), 2),
    }
    out = []
    for kind, (motion, eccentricity, count) in kinds.items():
        for _ in range(count):
            out.append(
                dataclasses.replace(
                    ISS,
                    object_name=f"{kind}-{len(out)}",
                    norad_cat_id=80_000 + len(out),
                    mean_motion_rev_per_day=float(motion()),
                    eccentricity=float(eccentricity()),
                    inclination_deg=63.4 if kind == "Molniya" else float(rng.uniform(0.0, 100.0)),
                    raan_deg=float(rng.uniform(0.0, 360.0)),
                    arg_of_pericenter_deg=float(rng.uniform(0.0, 360.0)),
                    mean_anomaly_deg=float(rng.uniform(0.0, 360.0)),
                    bstar=0.0,
                    mean_motion_dot=0.0,
                    mean_motion_ddot=0.0,
                )
            )
    return out


def stations(rng: np.random.Generator, count: int) -> list[Station]:
    """Return stations anywhere (both poles among them), some with their own minimum."""
    latitudes = np.concatenate([[89.9, -89.5], rng.uniform(-90.0, 90.0, count - 2)])
    return [
        Station(
            f"S{j}",
            float(lat),
            float(rng.uniform(-180.0, 180.0)),
            float(rng.uniform(0.0, 3000.0)),
            min_elevation_deg=float(rng.choice([0.0, 5.0, 10.0, 25.0])) if j % 3 else None,
        )
        for j, lat in enumerate(latitudes)
    ]


def same_passes(a: Passes, b: Passes) -> None:
    assert len(a) == len(b)
    for name in COLUMNS:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
        else:
            assert x == y, name


def test_indexed_cull_finds_exactly_the_passes_of_the_dense_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(17)
    elements, sites = satellites(rng), stations(rng, 160)
    end = START + timedelta(days=1)

    monkeypatch.setattr(pass_scan, "INDEX_COST", float("inf"))
    dense = find_passes(elements, sites, START, end, min_elevation_deg=10.0)

    used: list[int] = []
    indexed_cull = pass_scan._cull_indexed

    def spy(*args: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        used.append(1)
        return indexed_cull(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pass_scan, "INDEX_COST", 0.0)
    monkeypatch.setattr(pass_scan, "INDEX_MIN_STATIONS", 0)
    monkeypatch.setattr(pass_scan, "_cull_indexed", spy)
    indexed = find_passes(elements, sites, START, end, min_elevation_deg=10.0)

    assert used
    assert len(dense) > 1000
    assert len(set(dense.satellite.tolist())) == len(elements)
    same_passes(dense, indexed)


def test_a_satellite_scans_the_same_whatever_shares_its_chunk() -> None:
    rng = np.random.default_rng(4)
    orbits = build_orbits(satellites(rng))
    sites = Sites.build(stations(rng, 12), 5.0)
    duration_s = 2 * 86400.0
    window = Window(TimeOrigin.of(START), duration_s)
    for step_s, members in plan_chunks(orbits, sites.count, duration_s):
        whole, _ = scan([orbits[i] for i in members], np.asarray(members), step_s, window, sites)
        cut = rng.permutation(len(members))
        pieces = [members[: len(members) // 2], members[len(members) // 2 :]]
        pieces += [[members[i]] for i in cut[:3]]
        for piece in pieces:
            if not piece:
                continue
            part, _ = scan([orbits[i] for i in piece], np.asarray(piece), step_s, window, sites)
            for i in piece:
                for prefix in ("c_", "m_"):
                    mine_whole = getattr(whole, prefix + "sat") == i
                    mine_part = getattr(part, prefix + "sat") == i
                    for f in dataclasses.fields(whole):
                        if f.name.startswith(prefix):
                            x = getattr(whole, f.name)[mine_whole]
                            y = getattr(part, f.name)[mine_part]
                            assert np.array_equal(x, y, equal_nan=True), (i, f.name)


def test_chunk_size_changes_no_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    elements, sites = satellites(rng), stations(rng, 20)
    end = START + timedelta(days=1)
    one = find_passes(elements, sites, START, end)
    monkeypatch.setattr(pass_scan, "CHUNK_ELEMENTS", 2_000)
    many = find_passes(elements, sites, START, end)
    assert len(one) > 100
    same_passes(one, many)
