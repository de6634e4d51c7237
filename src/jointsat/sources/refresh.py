"""Refresh the consortium's satellites from a source: the one path of the CLI and the service.

The source's sets are stored for the satellites the store knows (``add``: the others
are added first, without operators); each set is kept with its source, its fetch time
and its record as received, and at equal epoch the preferred source's set is the one
predictions use (``Settings.source_order``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from jointsat.errors import SourceError
from jointsat.settings import FETCHED_KINDS, SOURCE_KINDS, Settings
from jointsat.sources.celestrak import CelesTrak, SupGP
from jointsat.sources.http import Transport
from jointsat.sources.source import Fetched, Query, Source
from jointsat.sources.spacetrack import SpaceTrack
from jointsat.store.consortium import (
    Arrival,
    add_satellite,
    satellites,
    satellites_by_number,
    store_element_sets,
)
from jointsat.store.sources import record_refresh

LOG = logging.getLogger("jointsat.sources")


def open_source(kind: str, settings: Settings, transport: Transport | None = None) -> Source:
    """Return the client of a source kind (``celestrak``, ``supgp``, ``spacetrack``)."""
    if kind == "celestrak":
        return CelesTrak(settings.celestrak_url, transport)
    if kind == "supgp":
        return SupGP(settings.celestrak_url, transport)
    if kind == "spacetrack":
        return SpaceTrack(settings.spacetrack_url, settings.spacetrack_credentials, transport)
    raise SourceError(f"no source {kind!r}: one of {', '.join(FETCHED_KINDS)}")


@dataclass(frozen=True)
class Refresh:
    """What a refresh did: sets received and stored, satellites updated, added, ignored."""

    source: str
    received: int
    stored: int
    satellites: int
    added: int = 0
    ignored: int = 0  # sets of objects that are not the consortium's satellites
    reused: str = ""  # what the source's rules answered from the store, if anything

    def summary(self) -> str:
        """Return the refresh in one line."""
        line = (
            f"{self.source}: {self.received} sets received, {self.stored} new stored for "
            f"{self.satellites} satellites"
        )
        if self.added:
            line += f", {self.added} satellites added"
        if self.ignored:
            line += f", {self.ignored} sets of other objects ignored"
        if self.reused:
            line += f" ({self.reused})"
        return line


def refresh(
    session: Session,
    source: Source,
    query: Query,
    now: datetime,
    *,
    order: Sequence[str] = SOURCE_KINDS,
    add: bool = False,
) -> Refresh:
    """Fetch the query's sets from the source and store them; log and remember one line.

    Nothing is stored when the source fails (``SourceError``).
    """
    reused_before = source.reused
    fetched = source.fetch(session, query, now)
    report = store_fetched(session, source.kind, fetched, now, order=order, add=add)
    reused = source.reused - reused_before
    if reused:
        interval_h = source.query_interval.total_seconds() / 3600.0
        note = (
            f"{reused} of {len(source.paths(query))} queries answered from the store: "
            f"{source.label} is asked the same at most once in {interval_h:g} h"
        )
        report = dataclasses.replace(report, reused=note)
    LOG.info("elements refreshed: %s", report.summary())
    record_refresh(session, source.name, report.summary(), now)
    return report


def refresh_consortium(
    session: Session, source: Source, now: datetime, *, order: Sequence[str] = SOURCE_KINDS
) -> Refresh:
    """Refresh every satellite of the store from the source."""
    numbers = tuple(s.norad_id for s in satellites(session))
    if not numbers:
        report = Refresh(source.kind, 0, 0, 0)
        record_refresh(session, source.name, f"{source.kind}: no satellites to refresh", now)
        return report
    return refresh(session, source, Query(catnrs=numbers), now, order=order)


def store_fetched(
    session: Session,
    kind: str,
    fetched: Sequence[Fetched],
    now: datetime,
    *,
    order: Sequence[str] = SOURCE_KINDS,
    add: bool = False,
) -> Refresh:
    """Store fetched sets for the satellites they belong to; return what was done."""
    by_number: dict[int, list[Fetched]] = defaultdict(list)
    for f in fetched:
        by_number[f.elements.norad_cat_id].append(f)
    known = satellites_by_number(session, by_number)
    added = 0
    if add:
        for number in sorted(set(by_number) - set(known)):
            newest = max(by_number[number], key=lambda f: f.elements.epoch)
            known[number] = add_satellite(
                session,
                name=newest.elements.object_name or str(number),
                norad_id=number,
                daily_demand_s=None,
                imager=None,
                operators={},
            )
            added += 1
        session.flush()
    stored = updated = 0
    for number, items in by_number.items():
        satellite = known.get(number)
        if satellite is None:
            continue
        count = 0
        for source, group in _by_source(items).items():
            arrival = Arrival(source, now, kind=kind, order=order)
            sets = [f.elements for f in group]
            count += (
                store_element_sets(session, satellite, sets, arrival, [f.raw for f in group]) or 0
            )
        stored += count
        updated += count > 0
    session.commit()
    ignored = sum(len(v) for n, v in by_number.items() if n not in known)
    return Refresh(kind, len(fetched), stored, updated, added, ignored)


def _by_source(items: Sequence[Fetched]) -> dict[str, list[Fetched]]:
    """Group one satellite's sets by the query that gave them, each epoch once."""
    groups: dict[str, list[Fetched]] = defaultdict(list)
    seen = set()
    for f in items:
        if f.elements.epoch not in seen:
            seen.add(f.elements.epoch)
            groups[f.source].append(f)
    return groups
