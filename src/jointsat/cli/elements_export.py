"""``jointsat elements export``: write a satellite's orbit as OEM, OMM or TLE."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl
from jointsat.cli.output import emit
from jointsat.errors import JointsatError
from jointsat.files import ElementFiles, read_elements
from jointsat.orbits.elements import Elements, ElementsFormat, ParsedElements, write_elements
from jointsat.orbits.export import sample_oem
from jointsat.orbits.oem import format_oem
from jointsat.orbits.propagation import Orbit, Satellite, build_orbits


class ExportFormat(StrEnum):
    """Name the formats ``jointsat elements export`` writes."""

    OEM = "oem"
    OMM = "omm"
    TLE = "tle"


def export(
    output_format: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", help="oem (KVN, EME2000, UTC), omm (JSON) or tle."),
    ],
    satellite: Annotated[
        int | None,
        typer.Option("--satellite", metavar="N", help="The stored satellite of catalog number N."),
    ] = None,
    elements: Annotated[
        Path | None,
        common.files_option(
            "Element sets (TLE or OMM) or an OEM to export from.", "--elements", "-e"
        ),
    ] = None,
    start: Annotated[
        datetime | None, common.time_option("First state of an OEM (UTC if no offset).", "--start")
    ] = None,
    end: Annotated[datetime | None, common.time_option("Last state of an OEM.", "--end")] = None,
    step_s: Annotated[
        float,
        typer.Option("--step-s", min=0.001, metavar="S", help="Seconds between an OEM's states."),
    ] = 60.0,
    output: Annotated[
        Path | None, common.files_option("Write here instead of stdout.", "--output", "-o")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export one satellite's orbit: an OEM sampled from it, or its element sets."""
    if (satellite is None) == (elements is None):
        raise typer.BadParameter("give exactly one of --satellite and --elements")
    errors = Console(stderr=True)
    with common.reporting_errors(errors), common.store_errors():
        files = (
            _from_store(satellite, database_url) if elements is None else read_elements([elements])
        )
        orbits = build_orbits(files.orbits)
        if len(orbits) != 1:
            raise JointsatError(f"{len(orbits)} satellites found; export one at a time")
        orbit = orbits[0]
        if output_format is ExportFormat.OEM:
            if start is None or end is None:
                raise typer.BadParameter("an OEM needs --start and --end")
            samples = sample_oem(orbit, _object_id(orbit), start, end, step_s)
            emit(format_oem(samples, created=common.now()), output)
            return
        sets = _element_sets(orbit)
        omm = output_format is ExportFormat.OMM
        text = write_elements(sets, ElementsFormat.OMM_JSON if omm else ElementsFormat.TLE)
        emit(text, output)


def _from_store(norad_id: int | None, database_url: str | None) -> ElementFiles:
    """Read the stored element sets of the satellite of this catalog number."""
    from jointsat.store.consortium import satellites, satellites_by_number
    from jointsat.store.convert import elements_of

    with common.store_session(database_url) as session:
        found = satellites_by_number(session, [norad_id or 0]).get(norad_id or 0)
        if found is None:
            raise JointsatError(f"no stored satellite has catalog number {norad_id}")
        (row,) = satellites(session, found.id)
        sets = tuple(elements_of(e) for e in row.element_sets)
    if not sets:
        raise JointsatError(f"satellite {norad_id} has no element set in the store")
    return ElementFiles(("store",), (ParsedElements(sets, (), ElementsFormat.OMM_JSON),))


def _element_sets(orbit: Orbit) -> tuple[Elements, ...]:
    if not isinstance(orbit, Satellite):
        raise JointsatError("an ephemeris has no element sets: export it as --format oem")
    return orbit.element_sets


def _object_id(orbit: Orbit) -> str:
    """Return the OEM OBJECT_ID: the international designator when known, else the number."""
    if isinstance(orbit, Satellite) and orbit.element_sets[-1].object_id:
        return orbit.element_sets[-1].object_id
    return getattr(orbit, "object_id", "") or str(orbit.norad_id)
