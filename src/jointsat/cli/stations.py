"""``jointsat station``: ground stations, their horizon masks and unavailability windows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jointsat.cli import common, remote
from jointsat.cli.output import Column, Format, FormatOption, emit, emit_one, emit_rows, json_text
from jointsat.cli.partners import PARTNERS
from jointsat.cli.remote import Place
from jointsat.errors import JointsatError
from jointsat.files import read_text
from jointsat.timelib import format_iso

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

station_app = typer.Typer(
    name="station",
    help="List, show, add, change and remove ground stations; their masks and outages.",
    no_args_is_help=True,
)
mask_app = typer.Typer(
    name="mask", help="Show or set a station's horizon mask.", no_args_is_help=True
)
unavailable_app = typer.Typer(
    name="unavailable",
    help="List or record windows in which a station cannot be used.",
    no_args_is_help=True,
)
rotator_app = typer.Typer(
    name="rotator",
    help="Show or set a station's rotator model (axes' ranges and rates, beamwidth).",
    no_args_is_help=True,
)
station_app.add_typer(mask_app)
station_app.add_typer(unavailable_app)
station_app.add_typer(rotator_app)

StationRef = Annotated[
    str, typer.Argument(metavar="STATION", help="The station's id, or its name if unique.")
]


def _points(station: dict[str, Any]) -> str | None:
    mask = station["horizon_mask"]
    return f"{len(mask['azimuth_deg'])} pts" if mask else None


def _degrees(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda station: f"{station[key]:.3f}"


STATION_COLUMNS = [
    Column("id", "id", "whole"),
    Column("name", "name"),
    Column("partner_id", "owner", "whole"),
    Column("lat_deg", "lat °", "number", _degrees("lat_deg")),
    Column("lon_deg", "lon °", "number", _degrees("lon_deg")),
    Column("alt_m", "alt m", "number", drop=2),
    Column("min_elevation_deg", "min el °", "number"),
    Column("horizon_mask", "mask", "whole", _points),
    Column("turnaround_s", "turnaround s", "number", drop=1),
    Column("bands", "bands"),
    Column("unavailable", "outages", "number", lambda s: len(s["unavailable"]), drop=3),
]
MASK_COLUMNS = [
    Column("azimuth_deg", "azimuth °", "number"),
    Column("elevation_deg", "elevation °", "number"),
]
WINDOW_COLUMNS = [
    Column("id", "id", "whole"),
    Column("start", "start (UTC)", "time"),
    Column("end", "end (UTC)", "time"),
    Column("kind", "kind"),
    Column("reason", "reason"),
]


def _stations(session: Session) -> list[dict[str, Any]]:
    """Return every station in the store as the API shows it."""
    from jointsat.service.routes.stations import public
    from jointsat.store.consortium import stations

    return [remote.json_of(public(g)) for g in stations(session)]


STATIONS = remote.Kind("station", "/stations", _stations, ("id", "name"), STATION_COLUMNS)
"""The ground stations (over a server: those the token may see), named by id (else name)."""
STATIONS.commands(
    station_app,
    "List the ground stations (over a server: those the token may see).",
    (StationRef, "Show one station."),
)


MaskFile = Annotated[
    Path | None,
    typer.Option(
        "--mask-file",
        metavar="CSV",
        exists=True,
        dir_okay=False,
        help="Horizon mask: a CSV of azimuth_deg,elevation_deg rows (header optional).",
    ),
]
MaskPoints = Annotated[
    str | None,
    typer.Option(
        "--mask",
        metavar="AZ:EL,...",
        help="Horizon mask inline: azimuth:elevation pairs in degrees, e.g. '0:5,180:10'.",
    ),
]


def read_mask(mask_file: Path | None, points: str | None) -> dict[str, list[float]] | None:
    """Return the horizon mask of a CSV file or of inline pairs (None: neither given)."""
    if mask_file is not None and points is not None:
        raise typer.BadParameter("give one of them", param_hint="'--mask' / '--mask-file'")
    pairs: list[tuple[str, str, str]] = []
    if mask_file is not None:
        for number, row in enumerate(csv.reader(io.StringIO(read_text(mask_file))), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2:
                raise JointsatError(f"{mask_file} line {number}: give azimuth_deg,elevation_deg")
            if number == 1 and row[0].strip() == "azimuth_deg":
                continue
            pairs.append((f"{mask_file} line {number}", row[0], row[1]))
    elif points is not None:
        for item in points.split(","):
            az, sep, el = item.partition(":")
            if not sep:
                raise typer.BadParameter(f"{item!r} is no AZ:EL pair", param_hint="'--mask'")
            pairs.append((f"--mask {item!r}", az, el))
    else:
        return None
    azimuths, elevations = [], []
    for where, az, el in pairs:
        try:
            azimuths.append(float(az))
            elevations.append(float(el))
        except ValueError:
            raise JointsatError(f"{where}: not a number") from None
    return {"azimuth_deg": azimuths, "elevation_deg": elevations}


def _fields(
    name: str | None,
    lat: float | None,
    lon: float | None,
    alt: float | None,
    min_elevation: float | None,
    turnaround: float | None,
    bands: list[str] | None,
) -> dict[str, Any]:
    """Return a station's fields, as the API names them, from the options that give them."""
    return {
        "name": name,
        "lat_deg": lat,
        "lon_deg": lon,
        "alt_m": alt,
        "min_elevation_deg": min_elevation,
        "turnaround_s": turnaround,
        "bands": bands,
    }


GOverTOption = Annotated[
    float | None,
    typer.Option(
        "--g-over-t-db-k",
        metavar="DB_K",
        help="The receiving chain's figure of merit G/T, dB/K (for link budgets).",
    ),
]


@remote.command(station_app, "add")
def station_add(
    place: Place,
    name: Annotated[str, typer.Argument(help="The station's name (unique per partner).")],
    partner: Annotated[str, typer.Option("--partner", help="The owner's code or id.")],
    lat: Annotated[float, typer.Option("--lat", help="Latitude, degrees north.")],
    lon: Annotated[float, typer.Option("--lon", help="Longitude, degrees east.")],
    alt: Annotated[float, typer.Option("--alt", help="Altitude, metres.")] = 0.0,
    min_elevation: Annotated[
        float, typer.Option("--min-elevation", help="Lowest usable elevation, degrees.")
    ] = 0.0,
    turnaround: Annotated[
        float, typer.Option("--turnaround", help="Seconds between two contacts.")
    ] = 0.0,
    band: Annotated[
        list[str] | None, typer.Option("--band", help="A frequency band (repeat for several).")
    ] = None,
    mask_file: MaskFile = None,
    mask: MaskPoints = None,
    g_over_t: GOverTOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Add a ground station to a partner."""
    body = _fields(name, lat, lon, alt, min_elevation, turnaround, band or [])
    body["horizon_mask"] = read_mask(mask_file, mask)
    body["g_over_t_db_k"] = g_over_t
    with place.work() as where:
        body["partner_id"] = PARTNERS.ident(where, partner)
        found = STATIONS.create(where, body, _add_station)
    emit_one(found, STATION_COLUMNS, fmt)


def _add_station(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    """Add a station to the store (see :data:`remote.Add`)."""
    from jointsat.service.routes.stations import StationCreate, public
    from jointsat.store.consortium import add_station

    row = add_station(session, remote.checked(StationCreate, body).model_dump())
    remote.committed(session, f"the partner has a station named {body['name']!r} already")
    session.refresh(row)
    return remote.json_of(public(row))


def _change_station(session: Session, ident: int, body: dict[str, Any]) -> dict[str, Any]:
    """Change a station in the store (see :data:`remote.Change`)."""
    from jointsat.service.routes.stations import StationUpdate, public
    from jointsat.store.tables import GroundStation

    changes = remote.checked(StationUpdate, body).model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in {"horizon_mask", "rotator", "g_over_t_db_k"}:
            raise JointsatError(f"{field} cannot be null")
    row = session.get_one(GroundStation, ident)
    for field, value in changes.items():
        setattr(row, field, value)
    remote.committed(session, f"the partner has a station named {body.get('name')!r}")
    return remote.json_of(public(row))


@remote.command(station_app, "update")
def station_update(
    place: Place,
    station: StationRef,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    lat: Annotated[float | None, typer.Option("--lat", help="Latitude, degrees north.")] = None,
    lon: Annotated[float | None, typer.Option("--lon", help="Longitude, degrees east.")] = None,
    alt: Annotated[float | None, typer.Option("--alt", help="Altitude, metres.")] = None,
    min_elevation: Annotated[
        float | None, typer.Option("--min-elevation", help="Lowest usable elevation, degrees.")
    ] = None,
    turnaround: Annotated[
        float | None, typer.Option("--turnaround", help="Seconds between two contacts.")
    ] = None,
    band: Annotated[
        list[str] | None,
        typer.Option("--band", help="Its frequency bands, all of them (repeat for several)."),
    ] = None,
    g_over_t: GOverTOption = None,
    no_g_over_t: Annotated[
        bool, typer.Option("--no-g-over-t", help="Clear the G/T: unknown.")
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Change a station (its mask: `jointsat station mask set`; its rotator: `... rotator set`)."""
    given = _fields(name, lat, lon, alt, min_elevation, turnaround, band)
    body = {k: v for k, v in given.items() if v is not None}
    if g_over_t is not None and no_g_over_t:
        raise typer.BadParameter("give one of them", param_hint="'--g-over-t-db-k'")
    if g_over_t is not None or no_g_over_t:
        body["g_over_t_db_k"] = g_over_t
    if not body:
        raise typer.BadParameter("give something to change", param_hint="'--name'")
    STATIONS.change(place, station, body, _change_station, fmt)


@remote.command(station_app, "remove")
def station_remove(place: Place, station: StationRef) -> None:
    """Remove a station no schedule has a contact at (else record an unavailability)."""
    STATIONS.remove(place, station, _remove_station)


def _remove_station(session: Session, ident: int) -> None:
    """Remove a station from the store, unless a schedule has a contact at it."""
    from jointsat.store.consortium import station_kept
    from jointsat.store.tables import GroundStation

    refusal, used = station_kept(session, ident)
    if used:
        raise JointsatError(refusal)
    session.delete(session.get_one(GroundStation, ident))
    remote.committed(session, refusal)


# --- horizon masks --------------------------------------------------------------------------


@remote.command(mask_app, "show")
def mask_show(place: Place, station: StationRef, fmt: FormatOption = Format.TABLE) -> None:
    """Show a station's horizon mask: the lowest usable elevation at each azimuth.

    JSON: the mask as the API has it (null: none, the minimum elevation holds all round).
    """
    with place.work() as where:
        found = STATIONS.document(where, station)
    mask = found["horizon_mask"]
    if fmt is Format.JSON:
        emit(json_text(mask))
        return
    rows = [] if mask is None else zip(mask["azimuth_deg"], mask["elevation_deg"], strict=True)
    documents = [{"azimuth_deg": az, "elevation_deg": el} for az, el in rows]
    title = f"horizon mask of station {found['id']} {found['name']}" + (
        "" if mask else f": none (minimum elevation {found['min_elevation_deg']}°)"
    )
    emit_rows(documents, MASK_COLUMNS, fmt, title=title)


@remote.command(mask_app, "set")
def mask_set(
    place: Place,
    station: StationRef,
    mask_file: MaskFile = None,
    mask: MaskPoints = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the mask.")] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Set a station's horizon mask from a CSV file or inline pairs (or --clear it)."""
    points = read_mask(mask_file, mask)
    if (points is None) == (not clear):
        raise typer.BadParameter(
            "give one of them", param_hint="'--mask' / '--mask-file' / '--clear'"
        )
    STATIONS.change(place, station, {"horizon_mask": points}, _change_station, fmt)


# --- rotators -------------------------------------------------------------------------------

ROTATOR_COLUMNS = [
    Column("field", "field"),
    Column("value", "value", "number"),
]
Pair = tuple[float, float]


def _rotator_rows(rotator: dict[str, float]) -> list[dict[str, Any]]:
    return [{"field": k, "value": v} for k, v in rotator.items()]


@remote.command(rotator_app, "show")
def rotator_show(place: Place, station: StationRef, fmt: FormatOption = Format.TABLE) -> None:
    """Show a station's rotator model (the default one where none is stored).

    JSON: the model as the API has it (null: none stored, the default model holds).
    """
    from jointsat.orbits.pointing import Rotator  # numpy: imported when needed

    with place.work() as where:
        found = STATIONS.document(where, station)
    rotator = found["rotator"]
    if fmt is Format.JSON:
        emit(json_text(rotator))
        return
    shown = rotator if rotator else asdict(Rotator())
    title = f"rotator of station {found['id']} {found['name']}" + (
        "" if rotator else ": none stored, the default model"
    )
    emit_rows(_rotator_rows(shown), ROTATOR_COLUMNS, fmt, title=title)


@remote.command(rotator_app, "set")
def rotator_set(
    place: Place,
    station: StationRef,
    azimuth_range: Annotated[
        Pair | None,
        typer.Option(
            "--azimuth-range",
            metavar="MIN MAX",
            help="The azimuth axis's stops in degrees (a span of at least 360).",
        ),
    ] = None,
    elevation_range: Annotated[
        Pair | None,
        typer.Option(
            "--elevation-range",
            metavar="MIN MAX",
            help="The elevation axis's range in degrees (up to 180: a flip-over mount).",
        ),
    ] = None,
    azimuth_rate: Annotated[
        float | None,
        typer.Option("--azimuth-rate", metavar="DEG_S", help="The azimuth axis's top speed."),
    ] = None,
    elevation_rate: Annotated[
        float | None,
        typer.Option("--elevation-rate", metavar="DEG_S", help="The elevation axis's top speed."),
    ] = None,
    beamwidth: Annotated[
        float | None,
        typer.Option("--beamwidth", metavar="DEG", help="The antenna's full half-power beamwidth."),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove the model: the default one holds.")
    ] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Set a station's rotator model: the fields given change, the others stay (or default)."""
    changes: dict[str, float] = {}
    if azimuth_range is not None:
        changes["azimuth_min_deg"], changes["azimuth_max_deg"] = azimuth_range
    if elevation_range is not None:
        changes["elevation_min_deg"], changes["elevation_max_deg"] = elevation_range
    for key, value in (
        ("azimuth_rate_deg_s", azimuth_rate),
        ("elevation_rate_deg_s", elevation_rate),
        ("beamwidth_deg", beamwidth),
    ):
        if value is not None:
            changes[key] = value
    if bool(changes) == clear:
        raise typer.BadParameter(
            "give the fields to change, or --clear", param_hint="'--azimuth-range' / '--clear'"
        )
    from jointsat.orbits.pointing import Rotator  # numpy: imported when needed

    with place.work() as where:
        found = STATIONS.document(where, station)
        body: dict[str, Any] = {
            "rotator": None if clear else {**(found["rotator"] or asdict(Rotator())), **changes}
        }
        changed = STATIONS.update(where, int(found["id"]), body, _change_station)
    if fmt is Format.JSON:
        emit(json_text(changed["rotator"]))
        return
    rotator = changed["rotator"] or asdict(Rotator())
    title = f"rotator of station {changed['id']} {changed['name']}"
    emit_rows(_rotator_rows(rotator), ROTATOR_COLUMNS, fmt, title=title)


# --- unavailability -------------------------------------------------------------------------


@remote.command(unavailable_app, "list")
def unavailable_list(place: Place, station: StationRef, fmt: FormatOption = Format.TABLE) -> None:
    """List the windows in which a station cannot be used."""
    with place.work() as where:
        found = STATIONS.document(where, station)
    windows = found["unavailable"]
    title = f"{len(windows)} window(s) of station {found['id']} {found['name']}"
    emit_rows(windows, WINDOW_COLUMNS, fmt, title=title)


@remote.command(unavailable_app, "add")
def unavailable_add(
    place: Place,
    station: StationRef,
    start: Annotated[datetime, common.time_option("Its start (UTC unless given a zone).")],
    end: Annotated[datetime, common.time_option("Its end.")],
    kind: Annotated[str, typer.Option("--kind", help="maintenance or outage.")] = "maintenance",
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "",
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Record a maintenance or outage window: schedules made after it leave it free."""
    body = {"start": format_iso(start), "end": format_iso(end), "kind": kind, "reason": reason}
    with place.work() as where:
        ident = STATIONS.ident(where, station)
        if where.api is not None:
            path = f"/stations/{ident}"
            etag = where.api.get(path).etag
            found = where.api.call("POST", f"{path}/unavailability", body=body, if_match=etag).body
        else:
            from jointsat.service.routes.stations import UnavailabilityCreate, public
            from jointsat.store.consortium import record_unavailability
            from jointsat.store.tables import GroundStation

            window = remote.checked(UnavailabilityCreate, body)
            row = where.session.get_one(GroundStation, ident)
            record_unavailability(
                row, window.start, window.end, window.kind, window.reason, now=common.now()
            )
            where.session.commit()
            found = remote.json_of(public(row))
    emit_rows(found["unavailable"], WINDOW_COLUMNS, fmt, title=f"windows of station {ident}")
