"""``jointsat satellite``: satellites, their operators, payloads and element sets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jointsat.cli import common, remote
from jointsat.cli.output import Column, Format, FormatOption, emit, emit_one, emit_rows, json_text
from jointsat.cli.partners import PARTNERS
from jointsat.cli.remote import Place
from jointsat.errors import InputError, JointsatError
from jointsat.files import read_text
from jointsat.jsonfile import Reader

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

satellite_app = typer.Typer(
    name="satellite",
    help="List, show, add and change satellites; list and upload their element sets.",
    no_args_is_help=True,
)

links_app = typer.Typer(
    name="links",
    help="Show or set a satellite's radio links (frequencies, transponders, link budget).",
    no_args_is_help=True,
)
satellite_app.add_typer(links_app)

SatelliteRef = Annotated[
    str,
    typer.Argument(
        metavar="SATELLITE", help="The satellite's catalog (NORAD) number, else its id or name."
    ),
]


def _shares(operators: dict[str, float]) -> str:
    return " ".join(f"{partner}:{fraction:g}" for partner, fraction in operators.items())


SATELLITE_COLUMNS = [
    Column("id", "id", "whole"),
    Column("norad_id", "NORAD", "whole"),
    Column("name", "name"),
    Column("operators", "operators", shown=lambda s: _shares(s["operators"])),
    Column("element_sets", "sets", "number"),
    Column("latest_epoch", "latest epoch", "time"),
    Column("daily_demand_s", "demand s/day", "number", drop=1),
    Column("payload", "payload", "whole", lambda s: s["payload"] is not None),
]
ELEMENT_COLUMNS = [
    Column("id", "id", "whole"),
    Column("epoch", "epoch (UTC)", "time"),
    Column("age_days", "age d", "number", lambda e: f"{e['age_days']:.2f}"),
    Column("chosen", "chosen", "whole"),
    Column("source_kind", "kind", "whole"),
    Column("source", "source"),
    Column("received_at", "received (UTC)", "time", drop=1),
]


def _satellites(session: Session) -> list[dict[str, Any]]:
    """Return every satellite in the store as the API shows it."""
    from jointsat.service.routes.satellites import public
    from jointsat.store.consortium import satellites

    return [remote.json_of(public(s)) for s in satellites(session)]


SATELLITES = remote.Kind(
    "satellite", "/satellites", _satellites, ("norad_id", "id", "name"), SATELLITE_COLUMNS
)
"""The satellites (over a server: those the token may see), named by catalog number, else
id, else name."""


@contextmanager
def _problems() -> Iterator[None]:
    """Turn the API's refusal of a payload into one line (the store's own check)."""
    from jointsat.service.problems import ProblemError

    try:
        yield
    except ProblemError as exc:
        raise JointsatError(exc.detail) from None


def _links(path: Path | None) -> Any:
    """Return the links of a JSON file: a list, or an object with a ``links`` list."""
    if path is None:
        return None
    read = Reader(str(path), InputError)
    document = read.json(read_text(path))
    if isinstance(document, dict) and set(document) == {"links"}:
        return document["links"]
    return document


def _payload(path: Path | None) -> Any:
    if path is None:
        return None
    read = Reader(str(path), InputError)
    return read.json(read_text(path))


SATELLITES.commands(
    satellite_app,
    "List the satellites (over a server: those the token may see).",
    (SatelliteRef, "Show one satellite (its payload in full with --format json)."),
)


LinksFile = Annotated[
    Path | None,
    typer.Option(
        "--links",
        metavar="JSON",
        exists=True,
        dir_okay=False,
        help="Its radio links: a JSON list of links (docs/cli.md, 'Radio links').",
    ),
]
PayloadFile = Annotated[
    Path | None,
    typer.Option(
        "--payload",
        metavar="JSON",
        exists=True,
        dir_okay=False,
        help="Its observing payload, for planning: a JSON object as the API takes it.",
    ),
]


@remote.command(satellite_app, "add")
def satellite_add(
    place: Place,
    name: Annotated[str, typer.Argument(help="The satellite's name.")],
    norad: Annotated[int, typer.Option("--norad", help="Its catalog (NORAD) number.")],
    operator: Annotated[
        list[str],
        typer.Option(
            "--operator",
            metavar="PARTNER=FRACTION",
            help="A partner operating it and its fraction (repeat; fractions sum to 1).",
        ),
    ],
    daily_demand: Annotated[
        float | None,
        typer.Option("--daily-demand", metavar="S", help="Contact seconds per day useful to it."),
    ] = None,
    payload: PayloadFile = None,
    links: LinksFile = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Add a satellite with the partners that operate it."""
    shares = []
    for item in operator:
        who, sep, fraction = item.rpartition("=")
        try:
            shares.append((who, float(fraction)))
        except ValueError:
            sep = ""
        if not sep or not who:
            raise typer.BadParameter(f"{item!r} is no PARTNER=FRACTION", param_hint="'--operator'")
    body: dict[str, Any] = {
        "name": name,
        "norad_id": norad,
        "daily_demand_s": daily_demand,
        "payload": _payload(payload),
    }
    if links is not None:
        body["links"] = _links(links)
    with place.work() as where:
        body["operators"] = {str(PARTNERS.ident(where, who)): f for who, f in shares}
        found = SATELLITES.create(where, body, _add_satellite)
    emit_one(found, SATELLITE_COLUMNS, fmt)


def _add_satellite(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    """Add a satellite to the store (see :data:`remote.Add`)."""
    from jointsat.service.routes.satellites import (
        SatelliteCreate,
        checked_links,
        payload_imager,
        public,
    )
    from jointsat.store.consortium import add_satellite

    checked = remote.checked(SatelliteCreate, body)
    with _problems():
        imager = payload_imager(body["norad_id"], checked.payload)
        links = checked_links(checked.links)
    row = add_satellite(
        session,
        name=checked.name,
        norad_id=checked.norad_id,
        daily_demand_s=checked.daily_demand_s,
        imager=imager,
        operators=checked.operators,
    )
    row.links = links
    remote.committed(session, f"a satellite with catalog number {body['norad_id']} exists")
    return remote.json_of(public(row))


@remote.command(satellite_app, "update")
def satellite_update(
    place: Place,
    satellite: SatelliteRef,
    daily_demand: Annotated[
        float | None,
        typer.Option("--daily-demand", metavar="S", help="Contact seconds per day useful to it."),
    ] = None,
    all_contacts: Annotated[
        bool, typer.Option("--any-demand", help="Clear the daily demand: every contact helps.")
    ] = False,
    payload: PayloadFile = None,
    no_payload: Annotated[
        bool, typer.Option("--no-payload", help="Clear the payload: it does not observe.")
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Change a satellite's daily contact demand or its payload."""
    body: dict[str, Any] = {}
    if daily_demand is not None or all_contacts:
        if daily_demand is not None and all_contacts:
            raise typer.BadParameter("give one of them", param_hint="'--daily-demand'")
        body["daily_demand_s"] = daily_demand
    if payload is not None or no_payload:
        if payload is not None and no_payload:
            raise typer.BadParameter("give one of them", param_hint="'--payload'")
        body["payload"] = _payload(payload)
    if not body:
        raise typer.BadParameter("give something to change", param_hint="'--daily-demand'")
    SATELLITES.change(place, satellite, body, _change_satellite, fmt)


def _change_satellite(session: Session, ident: int, body: dict[str, Any]) -> dict[str, Any]:
    """Change a satellite in the store (see :data:`remote.Change`)."""
    from jointsat.service.routes.satellites import (
        SatelliteUpdate,
        checked_links,
        payload_imager,
        public,
    )
    from jointsat.store.requests import set_payload
    from jointsat.store.tables import Satellite

    checked = remote.checked(SatelliteUpdate, body)
    row = session.get_one(Satellite, ident)
    if "links" in body:
        with _problems():
            row.links = checked_links(checked.links)
    if "payload" in body:
        with _problems():
            set_payload(row, payload_imager(row.norad_id, checked.payload))
    if "daily_demand_s" in body:
        row.daily_demand_s = checked.daily_demand_s
    session.commit()
    return remote.json_of(public(row))


# --- radio links ----------------------------------------------------------------------------


LINK_COLUMNS = [
    Column("name", "name"),
    Column("direction", "direction"),
    Column("frequency_hz", "frequency Hz", "number"),
    Column("offset_hz", "offset Hz", "number"),
    Column("transponder", "transponder", shown=lambda k: _transponder(k["transponder"])),
    Column("eirp_dbw", "EIRP dBW", "number"),
    Column("data_rate_bps", "rate bit/s", "number"),
    Column("required_eb_n0_db", "req. Eb/N0 dB", "number"),
    Column("polarization_loss_db", "pol. loss dB", "number", drop=1),
]


def _transponder(t: dict[str, Any] | None) -> str | None:
    if t is None:
        return None
    kind = "inverted" if t["inverted"] else "normal"
    return (
        f"{kind} {t['uplink_low_hz'] / 1e6:g}-{t['uplink_high_hz'] / 1e6:g} MHz up, "
        f"{t['downlink_low_hz'] / 1e6:g}-{t['downlink_high_hz'] / 1e6:g} MHz down"
    )


@remote.command(links_app, "show")
def links_show(place: Place, satellite: SatelliteRef, fmt: FormatOption = Format.TABLE) -> None:
    """Show a satellite's radio links (JSON: the list as `links set` takes it)."""
    with place.work() as where:
        found = SATELLITES.document(where, satellite)
    if fmt is Format.JSON:
        emit(json_text(found["links"]))
        return
    title = f"{len(found['links'])} link(s) of satellite {found['norad_id']} {found['name']}"
    emit_rows(found["links"], LINK_COLUMNS, fmt, title=title)


@remote.command(links_app, "set")
def links_set(
    place: Place,
    satellite: SatelliteRef,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="JSON",
            exists=True,
            dir_okay=False,
            help='The links: a JSON list (or {"links": [...]}); they replace all the stored ones.',
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every link.")] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Set a satellite's radio links from a JSON file (or --clear them)."""
    if (file is None) == (not clear):
        raise typer.BadParameter("give one of them", param_hint="'--file' / '--clear'")
    body = {"links": _links(file) if file is not None else None}
    with place.work() as where:
        found = SATELLITES.update(
            where, SATELLITES.ident(where, satellite), body, _change_satellite
        )
    if fmt is Format.JSON:
        emit(json_text(found["links"]))
        return
    title = f"{len(found['links'])} link(s) of satellite {found['norad_id']} {found['name']}"
    emit_rows(found["links"], LINK_COLUMNS, fmt, title=title)


@remote.command(satellite_app, "elements")
def satellite_elements(
    place: Place, satellite: SatelliteRef, fmt: FormatOption = Format.TABLE
) -> None:
    """List a satellite's element sets, newest epoch first, with their age in days now.

    At one epoch, the set predictions use (chosen) comes first.
    """
    now = common.now()
    with place.work() as where:
        ident = SATELLITES.ident(where, satellite)
        if where.api is not None:
            found = where.api.get(f"/satellites/{ident}/elements").body
        else:
            from jointsat.constants import DAY_S
            from jointsat.service.routes.satellites import ElementSetPublic
            from jointsat.store.consortium import element_set_history

            found = [
                remote.shown(
                    ElementSetPublic, e, age_days=(now - e.epoch).total_seconds() / DAY_S, raw=None
                )
                for e in element_set_history(where.session, ident)
            ]
    emit_rows(found, ELEMENT_COLUMNS, fmt, title=f"{len(found)} element set(s) of {satellite}")


@remote.command(satellite_app, "upload")
def satellite_upload(
    place: Place,
    satellite: SatelliteRef,
    path: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="Element sets (TLE, 3LE, OMM JSON/CSV/XML/KVN) or an OEM of this satellite.",
        ),
    ],
) -> None:
    """Store a file's element sets (or an OEM) for the satellite: all of them, or none.

    Sets already known (same epoch) are counted, not stored twice.
    """
    text = read_text(path)
    with place.work() as where:
        ident = SATELLITES.ident(where, satellite)
        if where.api is not None:
            found = where.api.call(
                "POST", f"/satellites/{ident}/elements", text=text, file_name=path.name
            ).body
            stored, known = found["stored"], found["already_known"]
        else:
            from jointsat.store.consortium import Arrival, store_upload
            from jointsat.store.tables import Satellite

            order = common.store_settings(place.database_url).source_order
            row = where.session.get_one(Satellite, ident)
            upload = store_upload(
                where.session, row, text, Arrival(path.name, common.now(), order=order)
            )
            if upload is None:
                raise JointsatError(f"no satellite with id {ident}")
            stored, known = upload.stored, upload.already_known
    typer.echo(f"{stored} stored, {known} already known: {path} for satellite {satellite}")
