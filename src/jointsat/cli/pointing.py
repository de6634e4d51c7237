"""``jointsat pointing``: a rotator's pointing plan for a satellite's passes over a station.

The passes come from the pass engine (as ``jointsat passes`` finds them) or, with
``--from-store``, are a scheduled contact's window; each is sampled every ``--step``
seconds from AOS to LOS and planned for the rotator the options (or the station's
stored model) describe, by :mod:`jointsat.operations.contact_plans`, which the
service's ``/contacts/{id}/pointing`` shares. This module adds only the input and
the output: a CSV, JSON or CCSDS TDM table, or a live stream of the commanded axis
angles to a ``rotctld`` (:mod:`jointsat.hamlib`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.output import emit
from jointsat.cli.remote import ServerToken, ServerUrl, server
from jointsat.errors import JointsatError, PointingError
from jointsat.files import read_elements, read_stations
from jointsat.hamlib import RotctldClient, pace, parse_address
from jointsat.operations.contact_plans import (
    POINTING_COLUMNS,
    PassPlan,
    Span,
    plan_window,
    plans_csv,
    plans_json,
    plans_tdm,
    pointing_rows,
    rows_csv,
)
from jointsat.operations.contact_plans import station_passes as find_station_passes
from jointsat.orbits.passes import Pass
from jointsat.orbits.pointing import Rotator
from jointsat.orbits.propagation import Orbit, build_orbits
from jointsat.orbits.stations import Station
from jointsat.timelib import parse_iso

if TYPE_CHECKING:
    from jointsat.client import ApiClient

__all__ = [
    "ROW_COLUMNS",
    "PassPlan",
    "RowFormat",
    "pointing",
    "rows",
    "station_passes",
    "stream",
    "stream_document",
]

ROW_COLUMNS = POINTING_COLUMNS
"""The columns of a plan's rows, in CSV and JSON alike."""


class RowFormat(StrEnum):
    """Name the formats ``jointsat doppler`` writes (and ``jointsat pointing`` but TDM)."""

    CSV = "csv"
    JSON = "json"


class PointingFormat(StrEnum):
    """Name the formats ``jointsat pointing`` writes."""

    CSV = "csv"
    JSON = "json"
    TDM = "tdm"


# The options ``jointsat pointing`` and ``jointsat doppler`` share.
ElementsOption = Annotated[
    list[Path] | None,
    common.files_option(
        "Element sets (TLE, 3LE or OMM) or ephemerides (OEM); repeat for several files.",
        "--elements",
        "-e",
    ),
]
StationsOption = Annotated[
    Path | None, common.files_option("Ground stations (CSV or JSON).", "--stations", "-s")
]
SatelliteOption = Annotated[
    str | None,
    typer.Option("--satellite", metavar="N", help="The satellite: its catalog number or its name."),
]
StationOption = Annotated[
    str | None,
    typer.Option("--station", metavar="NAME", help="The station's name, as in its file."),
]
StartOption = Annotated[
    datetime | None,
    common.time_option(
        "Window start, e.g. 2024-05-10T00:00:00Z; UTC if no offset.", metavar="ISO8601"
    ),
]
EndOption = Annotated[datetime | None, common.time_option("Window end.", metavar="ISO8601")]
StepOption = Annotated[
    float,
    typer.Option("--step", metavar="S", min=0.01, max=600.0, help="Seconds between rows."),
]
OutputOption = Annotated[
    Path | None, common.files_option("Write here instead of stdout.", "--output", "-o")
]
FromStoreOption = Annotated[
    int | None,
    typer.Option(
        "--from-store",
        metavar="CONTACT_ID",
        min=1,
        help="A scheduled contact of the store (--database-url) or of a server (--url, "
        "--token): its satellite's stored orbit, its station (and rotator, links), its "
        "start..end; instead of the files and the window.",
    ),
]
NoWaitOption = Annotated[
    bool,
    typer.Option("--no-wait", hidden=True, help="Send the rows at once (tests)."),
]


@dataclass(frozen=True)
class Contact:
    """What a command plans: the orbit, the station, and the windows (passes or a contact)."""

    orbit: Orbit
    station: Station
    windows: list[Span]
    rotator: Rotator | None = None  # the station's stored model (None: from files)
    links: tuple[dict[str, Any], ...] = ()


def pointing(
    elements: ElementsOption = None,
    stations: StationsOption = None,
    satellite: SatelliteOption = None,
    station: StationOption = None,
    start: StartOption = None,
    end: EndOption = None,
    azimuth_range: Annotated[
        tuple[float, float] | None,
        typer.Option(
            "--azimuth-range",
            metavar="MIN MAX",
            help="The azimuth axis's stops in degrees (a span of at least 360; default: "
            "the station's stored rotator, else 0 450).",
        ),
    ] = None,
    elevation_range: Annotated[
        tuple[float, float] | None,
        typer.Option(
            "--elevation-range",
            metavar="MIN MAX",
            help="The elevation axis's range in degrees (up to 180: a flip-over mount; "
            "default: the stored rotator's, else 0 90).",
        ),
    ] = None,
    azimuth_rate: Annotated[
        float | None,
        typer.Option(
            "--azimuth-rate", metavar="DEG_S", help="The azimuth axis's top speed (default 6)."
        ),
    ] = None,
    elevation_rate: Annotated[
        float | None,
        typer.Option(
            "--elevation-rate", metavar="DEG_S", help="The elevation axis's top speed (default 6)."
        ),
    ] = None,
    beamwidth: Annotated[
        float | None,
        typer.Option(
            "--beamwidth",
            metavar="DEG",
            help="The antenna's full half-power beamwidth (default 2).",
        ),
    ] = None,
    step_s: StepOption = 1.0,
    output_format: Annotated[
        PointingFormat,
        typer.Option(
            "--format",
            "-f",
            help="csv: a header line, then one row per sample, pass after pass; json: "
            "the passes, each with its plan's figures and rows; tdm: a CCSDS TDM (KVN) of "
            "the true look angles (ANGLE_TYPE AZEL), a segment per pass.",
        ),
    ] = PointingFormat.CSV,
    output: OutputOption = None,
    rotctld: Annotated[
        str | None,
        typer.Option(
            "--rotctld",
            metavar="HOST:PORT",
            help="Stream the plan to a rotator's rotctld (hamlib): each row's P AZ EL at its "
            "time, the first row's early by the pre-positioning time; instead of writing it.",
        ),
    ] = None,
    from_store: FromStoreOption = None,
    database_url: common.DatabaseUrl = None,
    url: ServerUrl = None,
    token: ServerToken = None,
    no_wait: NoWaitOption = False,
) -> None:
    """Plan a rotator's pointing through a satellite's passes over a station (az/el table)."""
    given = {
        "azimuth_min_deg": None if azimuth_range is None else azimuth_range[0],
        "azimuth_max_deg": None if azimuth_range is None else azimuth_range[1],
        "elevation_min_deg": None if elevation_range is None else elevation_range[0],
        "elevation_max_deg": None if elevation_range is None else elevation_range[1],
        "azimuth_rate_deg_s": azimuth_rate,
        "elevation_rate_deg_s": elevation_rate,
        "beamwidth_deg": beamwidth,
    }
    explicit = {k: v for k, v in given.items() if v is not None}
    rotator_of(Rotator(), explicit)  # a bad option is a command-line error before any reading
    address = None if rotctld is None else _address(rotctld, "rotctld")
    errors = Console(stderr=True)
    api = remote_contact(url, token, from_store, database_url)
    if api is not None:
        if explicit:
            raise typer.BadParameter(
                "the server plans with the station's stored rotator: leave out the rotator "
                "options, or plan here from the store (--database-url)",
                param_hint="rotator",
            )
        assert from_store is not None
        path = f"/contacts/{from_store}/pointing"
        with common.reporting_errors(errors):
            if address is None and output_format is PointingFormat.TDM:
                emit(remote_text(api, path, format="tdm", step_s=step_s), output)
                return
            document = api.get(path, format="json", step_s=step_s).body
            if address is None:
                if output_format is PointingFormat.JSON:
                    emit(json.dumps(document, indent=2) + "\n", output)
                else:
                    rows = [r for p in document["passes"] for r in p["rows"]]
                    emit(rows_csv(POINTING_COLUMNS, rows), output)
                return
            with RotctldClient(*address) as client:
                sent = stream_document(
                    document,
                    lambda row: client.set_position(row["azimuth_deg"], row["elevation_deg"]),
                    lead_key="preposition_s",
                    wait=not no_wait,
                )
            errors.print(
                f"{sent} positions sent to rotctld at {client.address} over "
                f"{len(document['passes'])} pass(es)",
                highlight=False,
            )
        return
    with common.reporting_errors(errors):
        contact = read_input(
            elements, stations, satellite, station, start, end, from_store, database_url, errors
        )
        rotator = rotator_of(contact.rotator or Rotator(), explicit)
        plans = [
            plan_window(contact.orbit, contact.station, w, rotator, step_s) for w in contact.windows
        ]
        if address is None:
            if output_format is PointingFormat.TDM:
                text = plans_tdm(
                    plans,
                    station=contact.station.name,
                    satellite=contact.orbit.name,
                    created=common.now(),
                )
            elif output_format is PointingFormat.JSON:
                text = plans_json(plans, rotator)
            else:
                text = plans_csv(plans)
            emit(text, output)
            return
        with RotctldClient(*address) as client:
            sent = stream(plans, client.set_position, wait=not no_wait)
        errors.print(
            f"{sent} positions sent to rotctld at {client.address} over {len(plans)} pass(es)",
            highlight=False,
        )


def remote_contact(
    url: str | None, token: str | None, from_store: int | None, database_url: str | None
) -> ApiClient | None:
    """Return a client of the server (``--url``) a stored contact is read from, or None."""
    api = server(url, token)
    if api is None:
        return None
    if from_store is None:
        raise typer.BadParameter(
            "--url reads a stored contact: give --from-store", param_hint="'--url'"
        )
    if database_url is not None:
        raise typer.BadParameter("give --url or --database-url, not both", param_hint="'--url'")
    return api


def remote_text(api: ApiClient, path: str, **query: Any) -> str:
    """Return the text (a CSV, a TDM) the server answers a GET of an API path with."""
    from jointsat.client import http_get

    with http_get(api.url(path, query), api.token) as response:
        return bytes(response.read()).decode("utf-8")


def rotator_of(base: Rotator, explicit: dict[str, float]) -> Rotator:
    """Return ``base`` with the options given replacing its fields (a bad one: exit 2)."""
    try:
        return dataclasses.replace(base, **explicit)
    except PointingError as exc:
        raise typer.BadParameter(str(exc).removeprefix("rotator "), param_hint="rotator") from None


def _address(text: str, daemon: str) -> tuple[str, int]:
    try:
        return parse_address(text, daemon)
    except JointsatError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"'--{daemon}'") from None


def read_input(
    elements: Sequence[Path] | None,
    stations: Path | None,
    satellite: str | None,
    station: str | None,
    start: datetime | None,
    end: datetime | None,
    from_store: int | None,
    database_url: str | None,
    errors: Console,
) -> Contact:
    """Return what to plan: the files' satellite, station and passes in the window, or the
    stored contact's (``--from-store``): exactly one of the two ways."""
    named = {
        "--elements": elements,
        "--stations": stations,
        "--satellite": satellite,
        "--station": station,
        "--start": start,
        "--end": end,
    }
    if from_store is not None:
        clash = [k for k, v in named.items() if v]
        if clash:
            raise typer.BadParameter(
                f"--from-store takes the contact's satellite, station and window: "
                f"leave out {', '.join(clash)}",
                param_hint="'--from-store'",
            )
        return stored_contact(from_store, database_url)
    missing = [k for k, v in named.items() if not v]
    if missing:
        raise typer.BadParameter(
            f"give {', '.join(missing)} (or --from-store CONTACT_ID)", param_hint=missing[0]
        )
    assert elements is not None
    assert stations is not None
    assert satellite is not None
    assert station is not None
    assert start is not None
    assert end is not None
    window_start, window_end = common.time_window(start, end=end)
    orbit, site = read_contact(elements, stations, satellite, station, errors)
    passes = station_passes(orbit, site, window_start, window_end, errors)
    return Contact(orbit, site, list(passes))


def stored_contact(contact_id: int, database_url: str | None) -> Contact:
    """Return a stored contact's orbit, station (rotator, links) and window."""
    from jointsat.store.contact_outputs import contact_model, load_contact

    with common.store_session(database_url) as session:
        record = load_contact(session, contact_id)
        if record is None:
            raise JointsatError(f"no contact with id {contact_id} in the store")
        model = contact_model(record)
        return Contact(
            model.orbit, model.station, [model.window], model.rotator, tuple(model.links)
        )


def read_contact(
    elements: Sequence[Path], stations: Path, satellite: str, station: str, errors: Console
) -> tuple[Orbit, Station]:
    """Read the element and station files (their problems warned), and return the
    satellite and the station asked for."""
    element_files = read_elements(elements)
    for problem in element_files.problems:
        common.warn(errors, str(problem))
    orbit = select_orbit(build_orbits(element_files.orbits), satellite)
    return orbit, select_station(read_stations(stations), station)


def select_orbit(orbits: Sequence[Orbit], wanted: str) -> Orbit:
    """Return the satellite whose catalog number is ``wanted``, else whose name is (any case)."""
    text = wanted.strip()
    if text.isdigit():
        found = [o for o in orbits if o.norad_id == int(text)]
    else:
        found = [o for o in orbits if o.name.strip().casefold() == text.casefold()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise JointsatError(f"no satellite {wanted!r} in the element files")
    numbers = ", ".join(str(o.norad_id) for o in found)
    raise JointsatError(f"several satellites are named {wanted!r} ({numbers}): give its number")


def select_station(stations: Sequence[Station], wanted: str) -> Station:
    """Return the station named ``wanted`` (any case)."""
    found = [s for s in stations if s.name.casefold() == wanted.strip().casefold()]
    if not found:
        names = ", ".join(s.name for s in stations[:5])
        more = ", ..." if len(stations) > 5 else ""
        raise JointsatError(f"no station {wanted!r} in the stations file ({names}{more})")
    return found[0]


def station_passes(
    orbit: Orbit, station: Station, start: datetime, end: datetime, errors: Console
) -> list[Pass]:
    """Return the orbit's passes over the station in the window, as ``jointsat passes`` finds them.

    Stale elements and SGP4 failures are warned about on ``errors``; no pass at all is
    an error (:class:`JointsatError`), one line.
    """
    found = find_station_passes(orbit, station, start, end)
    common.check_freshness(errors, found.freshness, strict=False)
    for problem in found.problems:
        common.warn(errors, problem)
    return found.passes


def rows(plans: Sequence[PassPlan]) -> list[dict[str, object]]:
    """Return every plan's rows (time, azimuth_deg, elevation_deg, lag_deg), pass after pass."""
    return pointing_rows(plans)


def stream_document(
    document: dict[str, Any],
    send_row: Callable[[dict[str, Any]], None],
    *,
    lead_key: str | None = None,
    wait: bool = True,
) -> int:
    """Send each row of a server's plan or table (its JSON) at its time; return how many.

    ``lead_key``: the pass's field that says how early its first row goes (a rotator's
    ``preposition_s``); otherwise as :func:`stream`.
    """
    sent = 0
    for p in document["passes"]:
        rows = p["rows"]
        times = [parse_iso(r["time"]).timestamp() for r in rows]
        lead_s = float(p[lead_key]) if lead_key is not None else 0.0

        def send(k: int, rows: list[dict[str, Any]] = rows) -> None:
            send_row(rows[k])

        sent += pace(times, send, lead_s=lead_s, wait=wait)
    return sent


def stream(
    plans: Sequence[PassPlan],
    set_position: Callable[[float, float], None],
    *,
    wait: bool = True,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send each row's axis angles at its time; return how many were sent.

    The first row of a pass goes ``preposition_s`` before AOS, so that the rotator is
    on it at AOS. A row whose successor's time has already come is skipped (the
    antenna goes straight to where it should be now); without ``wait`` every row is
    sent at once, in order (:func:`jointsat.hamlib.pace`).
    """
    sent = 0
    for p in plans:
        plan = p.plan
        times = (p.found.aos.timestamp() + plan.time_s).tolist()

        def send(k: int, plan: Any = plan) -> None:
            set_position(float(plan.azimuth_deg[k]), float(plan.elevation_deg[k]))

        sent += pace(times, send, lead_s=plan.preposition_s, wait=wait, clock=clock, sleep=sleep)
    return sent
