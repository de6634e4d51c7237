"""Build the demo consortium in a store: partners, agreements, stations, joint satellites.

The consortium is made up for the demo (real stations and satellites, invented
ownership): five agencies share the 21 bundled agency stations and five of the bundled
satellites, two of them jointly operated. The satellites' observing payloads are
invented too: the ISS and the two vehicles docked to it image the Earth as agile
imagers, CHEOPS and BURSTCUBE point at the sky as photometers. So are the requests:
each partner asks for a dozen Earth targets near its own stations that a 51.6-degree
orbit passes over (ASI, whose only station is in Antarctica, near its Malindi base)
and for two directions on the sky observed by CHEOPS, drawn from a fixed seed so that
every run asks the same.

The agreements' embargo and public-release delays are set from the day the demo runs
(``DATA_TERMS_FROM_NOW``), so that whatever that day each rule of the archive is at
work on the week's products: some still under embargo (their owner alone sees them),
some open to the other members only, some public. Its solves are deterministic
(CP-SAT's deterministic time, one worker): every run on a machine with the same
OR-Tools makes the same schedule and plan, however loaded the machine.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jointsat import demo_analysis, demo_operations
from jointsat.archive.blobs import BlobStore
from jointsat.archive.ingest import check_ingest, store_archive, store_bytes
from jointsat.archive.metadata import SkyPosition, product_metadata
from jointsat.archive.rights import Caller, ReleaseTimes, may_see
from jointsat.constants import MEAN_EARTH_RADIUS_KM
from jointsat.design.areas import Area, read_geojson
from jointsat.errors import StoreError
from jointsat.files import ElementFiles, read_demo_areas
from jointsat.orbits.elements import Elements
from jointsat.orbits.passes import Passes
from jointsat.orbits.stations import Station
from jointsat.planning.plan import Plan
from jointsat.planning.planner import PlannerSettings
from jointsat.planning.problem import Agility, Imager
from jointsat.planning.requests import EarthTarget, Kind, Mode, Request, SkyTarget
from jointsat.scheduling.result import Schedule
from jointsat.scheduling.solver import SolverSettings
from jointsat.service.tokens import initialise
from jointsat.settings import STORE_FILE_NAME, Settings, user_data_folder
from jointsat.store import design, migrate
from jointsat.store.database import open_engine, session_factory
from jointsat.store.planning import plan_observations
from jointsat.store.requests import fill_request, set_payload
from jointsat.store.schedules import schedule_network
from jointsat.store.tables import (
    Agreement,
    AreaVisibility,
    ContactRecord,
    ElementSetRecord,
    GroundStation,
    ObservationRequest,
    Partner,
    PlanRecord,
    Product,
    Satellite,
    SatelliteOperator,
    Visibility,
)
from jointsat.timelib import format_iso

DEMO_DAYS = 7
# CP-SAT's deterministic time (SearchSettings.deterministic), not the clock's: the
# schedule needs about 1 unit, the plan under 1 (2-5 s of one core each, problems
# built included).
SCHEDULE_TIME_LIMIT_S = 20.0
PLAN_TIME_LIMIT_S = 10.0
SOLVER_WORKERS = 1  # a deterministic search runs on one worker
# CP-SAT's whole portfolio, interleaved on one worker, needed 4-5 units (10-12 s) to
# prove the schedule's fourth level; its LP-heavy strategy alone, under one.
SCHEDULE_SUBSOLVERS = ("max_lp",)
DEMO_STORE_FILE_NAME = "jointsat-demo.db"  # in the user's data folder, made anew at each run

# code: (name, contribution share, station visibility, public release of its data in
# days after acquisition; None: never public). Every partner's embargo is EMBARGO_DAYS.
# These are the agreements ``build`` writes unless given other terms; the demo itself
# writes those of DATA_TERMS_FROM_NOW.
PARTNERS = {
    "esa": ("European Space Agency", 0.35, Visibility.CONSORTIUM, 365),
    "nasa": ("NASA", 0.30, Visibility.CONSORTIUM, 365),
    "cnes": ("CNES", 0.15, Visibility.CONSORTIUM, 730),
    "dlr": ("DLR", 0.12, Visibility.PRIVATE, None),
    "asi": ("Agenzia Spaziale Italiana", 0.08, Visibility.CONSORTIUM, 365),
}
EMBARGO_DAYS = 180
# code: (when the week's products open to the other members, when to the public), in
# days from the day the demo runs (negative: before it; None: never public). With the
# week in May 2024, fixed delays would have opened everything long ago: these show
# each rule of the archive at work, whatever the day.
DATA_TERMS_FROM_NOW: dict[str, tuple[int, int | None]] = {
    "esa": (-30, 335),  # open to the members a month ago, public in 11 months
    "nasa": (-60, -30),  # public a month ago
    "cnes": (150, 515),  # under embargo for five more months
    "dlr": (-30, None),  # open to the members a month ago, never public
    "asi": (150, 515),  # under embargo for five more months
}
# The first word of a bundled station's name -> its (demo) owner.
STATION_OWNERS = {
    "Kiruna": "esa",
    "Maspalomas": "esa",
    "Kourou": "esa",
    "New": "esa",
    "Malargue": "esa",
    "Cebreros": "esa",
    "Svalbard": "nasa",
    "Troll": "asi",
    "Singapore": "cnes",
    "Aussaguel": "cnes",
    "Kerguelen": "cnes",
    "Hartebeesthoek": "cnes",
    "Weilheim": "dlr",
    "Neustrelitz": "dlr",
    "Wallops": "nasa",
    "McMurdo": "nasa",
    "Santiago": "nasa",
    "South": "nasa",
    "Perth": "nasa",
    "Poker": "nasa",
}
# Catalog number -> operators and fractions (two joint satellites).
SATELLITE_OPERATORS = {
    25544: {"nasa": 0.5, "esa": 0.2, "asi": 0.1, "dlr": 0.1, "cnes": 0.1},  # ISS (ZARYA)
    44874: {"esa": 0.6, "cnes": 0.15, "asi": 0.15, "dlr": 0.1},  # CHEOPS
    59562: {"nasa": 1.0},  # BURSTCUBE
    58898: {"nasa": 0.7, "asi": 0.3},  # CYGNUS NG-20
    59097: {"nasa": 1.0},  # CREW DRAGON 8
}
CHEOPS = 44874
# Invented radio records, for the demo's pointing, Doppler and link budgets: one S-band
# telemetry downlink per satellite (8 Mbit/s, BPSK with a rate-1/2 code needing about
# 4.4 dB plus implementation losses) and a G/T typical of a small S-band dish per station.
DEMO_DOWNLINK = {
    "name": "S-band TM",
    "direction": "downlink",
    "frequency_hz": 2.245e9,
    "eirp_dbw": 3.0,
    "data_rate_bps": 8.0e6,
    "required_eb_n0_db": 6.0,
}
DEMO_G_OVER_T_DB_K = 17.0
# Each station's rotator: azimuth stops at -180 and 540 deg (a turn and a half, so that
# no pass needs an unwind), 6 deg/s on both axes, a 2-degree beam (orbits.pointing).
DEMO_ROTATOR = {"azimuth_min_deg": -180.0, "azimuth_max_deg": 540.0}
# Invented payloads (their ids are set to each satellite's catalog number). The
# imagers turn at 2 deg/s: from 420 km the line of sight to a target below turns at
# about 1 deg/s, so that at 1 deg/s a rest-to-rest slew between a stereo pair's looks
# could hardly ever catch up with it.
AGILE_IMAGER, PHOTOMETER = (
    Imager(
        id="-",
        memory_mbit=memory_mbit,
        imaging_rate_mbps=imaging_mbps,
        downlink_rate_mbps=downlink_mbps,
        agility=Agility(
            max_rate_deg_s=rate_deg_s, max_accel_deg_s2=accel_deg_s2, settle_s=settle_s
        ),
        observes=frozenset({kind}),
    )
    for kind, memory_mbit, imaging_mbps, downlink_mbps, rate_deg_s, accel_deg_s2, settle_s in (
        (Kind.EARTH, 64_000.0, 400.0, 150.0, 2.0, 0.2, 10.0),
        (Kind.SKY, 8_000.0, 2.0, 2.0, 0.5, 0.02, 30.0),
    )
)
PAYLOADS = {
    25544: AGILE_IMAGER,
    CHEOPS: PHOTOMETER,
    59562: PHOTOMETER,
    58898: AGILE_IMAGER,
    59097: AGILE_IMAGER,
}

REQUEST_SEED = 20240510
EARTH_TARGETS = 12  # per partner
SKY_TARGETS = 2  # per partner, for CHEOPS
REACH_LAT_DEG = 51.6  # the ISS's inclination: the ground track reaches this latitude
TARGET_SPREAD_KM = 150.0  # Earth targets lie within this distance of a site
# The cycle of Earth targets' kinds: optical (one look, the Sun at least 10 degrees
# up), radar (one look, by day or night) and stereo (a radar pair, in a wider cone).
EARTH_KINDS = ("optical", "radar", "optical", "stereo", "radar", "optical")
OPTICAL_SUN_ELEVATION_DEG = 10.0
OFF_NADIR_DEG = 30.0
STEREO_OFF_NADIR_DEG = 45.0
STAR_DURATION_S = 1_200.0
# Sites of partners that own no station the orbit passes over: latitude, longitude
# (degrees) and height (m) by name, from NASA's Directory of Station Locations (as
# the bundled stations; see data/ATTRIBUTION.md).
AGENCY_SITES = {
    "asi": {"Malindi KENS": (-2.9955575, 40.194505, 12.314)},  # Broglio Space Centre
}
# Mission design: a candidate constellation studied over every partner's area of interest
# (data/demo_areas.geojson: hand-drawn boxes; DLR's private, like its stations) for the
# week's first day, on a 2-degree equal-area grid, through the service's own path.
DESIGN_CONSTELLATION = "walker:12/3/1:550:53"
DESIGN_DAYS = 1
DESIGN_GRID_DEG = 2.0
DESIGN_MIN_ELEVATION_DEG = 10.0


@dataclass(frozen=True)
class DemoConsortium:
    """What the demo put in the store."""

    admin_token: str
    partners: dict[str, int]
    station_owner: dict[str, str]  # station name -> partner code
    operators: dict[int, dict[str, float]]  # catalog number -> partner code -> fraction


Terms = dict[str, tuple[int, int | None]]
"""Each partner's data terms: (embargo days, public-release days or None: never public)."""


def build(
    session: Session,
    elements: ElementFiles,
    stations: tuple[Station, ...],
    *,
    now: datetime,
    terms: Terms | None = None,
) -> DemoConsortium:
    """Fill an empty, migrated store with the demo consortium and return its admin token.

    ``terms`` sets the agreements' embargo and public-release days (default:
    ``EMBARGO_DAYS`` and each partner's public release in ``PARTNERS``).
    """
    if session.scalar(select(func.count()).select_from(Partner)):
        raise StoreError("the store already holds partners; the demo needs an empty store")
    token = initialise(session, name="admin", now=now)
    partners = {}
    for code, (name, share, visibility, public_days) in PARTNERS.items():
        embargo_days, public_release_days = (
            terms[code] if terms is not None else (EMBARGO_DAYS, public_days)
        )
        partner = Partner(code=code, name=name, contribution_share=share)
        session.add(
            Agreement(
                partner=partner,
                embargo_days=embargo_days,
                public_release_days=public_release_days,
                station_visibility=visibility,
            )
        )
        partners[code] = partner
    owner_of = {s.name: STATION_OWNERS[s.name.split()[0]] for s in stations}
    for s in stations:
        session.add(
            GroundStation(
                name=s.name,
                owner=partners[owner_of[s.name]],
                lat_deg=s.lat_deg,
                lon_deg=s.lon_deg,
                alt_m=s.alt_m,
                min_elevation_deg=s.min_elevation_deg or 0.0,
                turnaround_s=120.0,
                bands=["S"],
                g_over_t_db_k=DEMO_G_OVER_T_DB_K,
                rotator=dict(DEMO_ROTATOR),
            )
        )
    source_of = {}
    for source, parsed in zip(elements.sources, elements.parsed, strict=True):
        for e in parsed.elements:
            source_of[id(e)] = source
    for norad_id, fractions in SATELLITE_OPERATORS.items():
        sets = [e for e in elements.elements if e.norad_cat_id == norad_id]
        if not sets:
            raise StoreError(f"the bundled data have no element set for {norad_id}")
        satellite = Satellite(
            name=sets[-1].object_name, norad_id=norad_id, links=[dict(DEMO_DOWNLINK)]
        )
        set_payload(satellite, dataclasses.replace(PAYLOADS[norad_id], id=str(norad_id)))
        satellite.operators = [
            SatelliteOperator(partner=partners[code], fraction=f) for code, f in fractions.items()
        ]
        satellite.element_sets = [
            ElementSetRecord(
                epoch=e.epoch, omm=e.to_omm(), source=source_of[id(e)], received_at=now
            )
            for e in sets
        ]
        session.add(satellite)
    for request in demo_requests(stations, owner_of):
        record = ObservationRequest(partner=partners[request.partner])
        fill_request(record, request, now=now)
        session.add(record)
    for area, seen_by in demo_areas():
        assert area.partner is not None  # every demo area names its partner
        design.add_area(session, partners[area.partner], area, seen_by, now=now)
    session.flush()
    return DemoConsortium(
        admin_token=token,
        partners={code: p.id for code, p in partners.items()},
        station_owner=owner_of,
        operators=SATELLITE_OPERATORS,
    )


def demo_areas() -> list[tuple[Area, AreaVisibility]]:
    """Return each partner's area of interest (bundled GeoJSON) and who may see it."""
    source, text = read_demo_areas()
    features = json.loads(text)["features"]
    areas = read_geojson(text, source=source)
    return [
        (area, AreaVisibility(feature["properties"]["visibility"]))
        for area, feature in zip(areas, features, strict=True)
    ]


def demo_requests(stations: Sequence[Station], owner_of: dict[str, str]) -> tuple[Request, ...]:
    """Return each partner's Earth targets near its sites and sky targets for CHEOPS, seeded.

    A partner's sites are its stations at latitudes the 51.6-degree orbit reaches,
    then its entries in ``AGENCY_SITES``; targets go round them, each within
    ``TARGET_SPREAD_KM`` of its site, the kinds cycling through ``EARTH_KINDS``.
    """
    rng = random.Random(REQUEST_SEED)
    found: list[Request] = []
    for code in PARTNERS:
        sites = [
            (s.lat_deg, s.lon_deg, s.alt_m)
            for s in stations
            if owner_of[s.name] == code and abs(s.lat_deg) <= REACH_LAT_DEG
        ]
        sites += AGENCY_SITES.get(code, {}).values()
        if not sites:
            raise StoreError(f"partner {code} has no site the demo's orbits pass over")
        for k in range(EARTH_TARGETS):
            lat, lon, alt = sites[k % len(sites)]
            lat, lon = _near(rng, lat, lon)
            kind = EARTH_KINDS[k % len(EARTH_KINDS)]
            found.append(
                EarthTarget(
                    id=f"{code}-earth-{k + 1}",
                    partner=code,
                    lat_deg=lat,
                    lon_deg=lon,
                    alt_m=alt,
                    gain=rng.randint(1, 10),
                    min_sun_elevation_deg=OPTICAL_SUN_ELEVATION_DEG if kind == "optical" else None,
                    mode=Mode.STEREO if kind == "stereo" else Mode.MONO,
                    max_off_nadir_deg=STEREO_OFF_NADIR_DEG if kind == "stereo" else OFF_NADIR_DEG,
                )
            )
        for k in range(SKY_TARGETS):
            found.append(
                SkyTarget(
                    id=f"{code}-sky-{k + 1}",
                    partner=code,
                    ra_deg=round(rng.uniform(0.0, 360.0), 4),
                    dec_deg=round(math.degrees(math.asin(rng.uniform(-1.0, 1.0))), 4),
                    gain=rng.randint(1, 10),
                    duration_s=STAR_DURATION_S,
                    satellites=(str(CHEOPS),),
                )
            )
    return tuple(found)


def _near(rng: random.Random, lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """Return a point drawn evenly within ``TARGET_SPREAD_KM`` of the given one."""
    distance = TARGET_SPREAD_KM / MEAN_EARTH_RADIUS_KM * math.sqrt(rng.random())  # radians
    bearing = rng.uniform(0.0, 2.0 * math.pi)
    lat = math.radians(lat_deg)
    to_lat = math.asin(
        math.sin(lat) * math.cos(distance) + math.cos(lat) * math.sin(distance) * math.cos(bearing)
    )
    to_lon = math.radians(lon_deg) + math.atan2(
        math.sin(bearing) * math.sin(distance) * math.cos(lat),
        math.cos(distance) - math.sin(lat) * math.sin(to_lat),
    )
    lon = (math.degrees(to_lon) + 180.0) % 360.0 - 180.0
    return round(math.degrees(to_lat), 4), round(lon, 4)


def archive_plan(session: Session, blobs: BlobStore, plan_id: int, *, now: datetime) -> int:
    """Archive a stand-in product for each observation of a plan; return how many are new.

    The demo has no instrument data: each product's one file is a small JSON note of
    the observation (satellite, request, target, times), so that the archive, its
    catalogue and its rights can be seen at work. A product is owned by the partner
    whose request it served, acquired over the observation, with the target as its
    footprint (a point) or sky position, and the first contact of the plan's schedule
    after it as the contact that brought it down.
    """
    plan = session.get(PlanRecord, plan_id)
    if plan is None:
        raise StoreError(f"no plan {plan_id} in the store")
    schedule_id = plan.provenance.get("schedule_id")
    contacts = (
        session.scalars(
            select(ContactRecord)
            .where(ContactRecord.schedule_id == schedule_id)
            .order_by(ContactRecord.start)
        ).all()
        if schedule_id is not None
        else []
    )
    codes = {p.id: p.code for p in session.scalars(select(Partner))}
    new = 0
    for observation in plan.observations:
        note = {
            "note": "a stand-in for instrument data: the jointsat demo has none",
            "plan": plan_id,
            "request": observation.request_ref,
            "satellite": observation.satellite.norad_id,
            "start": format_iso(observation.start),
            "end": format_iso(observation.end_at),
            "target": observation.target,
        }
        target = observation.target
        earth = "lat_deg" in target
        downlink = next(
            (
                c
                for c in contacts
                if c.satellite_id == observation.satellite_id and c.start >= observation.end_at
            ),
            None,
        )
        metadata = product_metadata(
            satellite=observation.satellite.norad_id,
            instrument="imager" if earth else "photometer",
            processing_level="L0",
            acquired_start=observation.start,
            acquired_end=observation.end_at,
            owners=[codes[observation.partner_id]],
            contact_id=None if downlink is None else downlink.id,
            footprint=(
                {"type": "Point", "coordinates": [target["lon_deg"], target["lat_deg"]]}
                if earth
                else None
            ),
            sky=None if earth else SkyPosition(target["ra_deg"], target["dec_deg"]),
        )
        ingest = check_ingest(session, metadata, user=None)
        stored = store_bytes(
            blobs,
            f"observation-{observation.request_ref}.json",
            json.dumps(note, indent=1, sort_keys=True).encode(),
            "application/json",
        )
        _, created = ingest.record(session, [stored], now=now)
        new += created
    return new


class Rule(enum.StrEnum):
    """The archive's rules, as a product stands under them at a moment."""

    EMBARGOED = "embargoed"  # its owners (and the admin) only
    MEMBERS = "members"  # every partner, not the public
    PUBLIC = "public"  # anyone, without a token


@dataclass(frozen=True)
class RuleExample:
    """A product of the demo under one rule of the archive at ``now``, and who sees it."""

    rule: Rule
    product_id: str
    owner: str  # partner code
    acquired_end: datetime
    members_from: datetime
    public_from: datetime | None
    seen_by: tuple[str, ...]  # partner codes, then "public" when anyone may see it


def rule_of(times: ReleaseTimes, now: datetime) -> Rule:
    """Return the rule a product with these release times stands under at ``now``."""
    if times.public_from is not None and now >= times.public_from:
        return Rule.PUBLIC
    return Rule.MEMBERS if now >= times.members_from else Rule.EMBARGOED


def rule_examples(session: Session, now: datetime) -> list[RuleExample]:
    """Return the first product (by acquisition) under each rule at ``now``, in rule order."""
    codes = {p.id: p.code for p in session.scalars(select(Partner).order_by(Partner.id))}
    found: dict[Rule, RuleExample] = {}
    for product in session.scalars(select(Product).order_by(Product.acquired_start, Product.id)):
        times = ReleaseTimes(product.members_from, product.public_from)
        rule = rule_of(times, now)
        if rule in found:
            continue
        owners = product.owner_ids
        seen_by = [c for i, c in codes.items() if may_see(Caller(partner_id=i), owners, times, now)]
        if may_see(Caller.public(), owners, times, now):
            seen_by.append("public")
        found[rule] = RuleExample(
            rule=rule,
            product_id=product.id,
            owner=",".join(codes[i] for i in owners),
            acquired_end=product.acquired_end,
            members_from=product.members_from,
            public_from=product.public_from,
            seen_by=tuple(seen_by),
        )
    return [found[rule] for rule in Rule if rule in found]


def data_terms(week: Week, now: datetime) -> Terms:
    """Return the agreements' days that open the week's products as ``DATA_TERMS_FROM_NOW``.

    A delay counted from the acquisition's end becomes one moment for the whole week
    only roughly: one still running at ``now`` is counted from the week's start, so
    that no product opens before that moment; one already over from the week's end,
    so that every product opened by then (when the week ended long enough before).
    """

    def days(from_now: int) -> int:
        moment = now + timedelta(days=from_now)
        if moment > now:
            return max(0, math.ceil((moment - week.start) / timedelta(days=1)))
        return max(0, math.floor((moment - week.end) / timedelta(days=1)))

    return {
        code: (days(members), None if public is None else days(public))
        for code, (members, public) in DATA_TERMS_FROM_NOW.items()
    }


@dataclass(frozen=True)
class Week:
    """The demo's week: from the day after the newest element set of the first source."""

    start: datetime
    end: datetime
    anchor: Elements  # that newest element set
    source: str


@dataclass(frozen=True)
class Predicted:
    """The week's passes of every satellite over every station."""

    passes: Passes


@dataclass(frozen=True)
class Built:
    """The demo consortium, in the store."""

    consortium: DemoConsortium


@dataclass(frozen=True)
class Shared:
    """The week's pooled network, shared fairly and saved."""

    schedule: Schedule
    document: dict[str, Any]


@dataclass(frozen=True)
class Planned:
    """The week's observations, planned fairly and saved."""

    plan: Plan
    document: dict[str, Any]


@dataclass(frozen=True)
class Archived:
    """The stand-in products of the plan's observations, archived."""

    products: int
    root: Path
    rules: list[RuleExample]  # an example product under each rule of the archive, now


@dataclass(frozen=True)
class Studied:
    """A candidate constellation's coverage of the partners' areas, studied and saved."""

    study_id: int
    constellation: str
    days: int
    status: str
    error: str | None
    partners: list[dict[str, Any]]  # the summary's figures per partner


Step = (
    Week
    | Predicted
    | Built
    | Shared
    | Planned
    | Archived
    | Studied
    | demo_analysis.Analysed
    | demo_operations.Operated
)
Predict = Callable[[datetime, datetime], Passes]
Progress = Callable[[str], AbstractContextManager[object]]


def _no_progress(_: str) -> AbstractContextManager[object]:
    return nullcontext()


def study_coverage(sessions: Any, start: datetime, *, now: datetime) -> Studied:
    """Store and run the demo's design study, as the service would (its checks, its path).

    ``DESIGN_CONSTELLATION`` over every partner's area for ``DESIGN_DAYS`` from ``start``:
    checked within the service's limits, stored queued, then run by
    ``store.design.run_study``, the service's background runner's own path.
    """
    with sessions.begin() as session:
        records = design.areas(session)
        inputs = design.StudyInputs(
            area_ids=tuple(r.id for r in records),
            start=start,
            end=start + timedelta(days=DESIGN_DAYS),
            constellations=(DESIGN_CONSTELLATION,),
            min_elevation_deg=DESIGN_MIN_ELEVATION_DEG,
            grid_deg=DESIGN_GRID_DEG,
        )
        design.prepare(inputs, records, design.API_LIMITS)
        name = f"{DESIGN_CONSTELLATION} over the partners' areas"
        record = design.add_study(session, name, inputs, records, now=now)
        session.flush()
        study_id = record.id
    design.run_study(sessions, study_id, clock=lambda: now)
    with sessions() as session:
        done = design.study(session, study_id)
        assert done is not None
        summary = done.summary or {}
        return Studied(
            study_id,
            DESIGN_CONSTELLATION,
            DESIGN_DAYS,
            done.status.value,
            done.error,
            list(summary.get("partners", [])),
        )


def demo_store_url() -> str:
    """Return the URL of the demo's SQLite file in the user's data folder."""
    return f"sqlite:///{user_data_folder() / DEMO_STORE_FILE_NAME}"


def fresh_store_url() -> str:
    """Return the URL of the demo's store, emptied: its file and its own archive removed.

    The archive's folder is removed only when it is the demo store's own (as
    ``Settings.archive_folder`` names it), never one another store shares.
    """
    folder = user_data_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DEMO_STORE_FILE_NAME
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    url = demo_store_url()
    archive = Settings(database_url=url).archive_folder
    shared = Settings(database_url=f"sqlite:///{folder / STORE_FILE_NAME}").archive_folder
    if archive != shared and archive.is_dir():
        shutil.rmtree(archive)
    return url


def week_of(elements: ElementFiles) -> Week:
    """Return the week starting the day after the newest element set of the first source."""
    anchor = max(elements.parsed[0].elements, key=lambda e: e.epoch)
    midnight = anchor.epoch.replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight + timedelta(days=1)
    end = start + timedelta(days=DEMO_DAYS)
    return Week(start, end, anchor, elements.sources[0])


def run(
    settings: Settings,
    elements: ElementFiles,
    stations: tuple[Station, ...],
    *,
    now: datetime,
    predict: Predict,
    progress: Progress = _no_progress,
) -> Iterator[Step]:
    """Run the demo into the empty store of ``settings``, yielding each step once done.

    The week is chosen, its passes predicted (by ``predict``, which the caller
    gives: it reports problems), the consortium built (its agreements' delays set
    from ``now``: ``data_terms``), the pooled network shared fairly (a schedule), the
    partners' requests planned fairly, downlinked in that schedule's contacts (a
    plan), and a stand-in product archived per observation. ``progress(description)``
    wraps each long step (the caller shows it running). The solves are deterministic.
    """
    week = week_of(elements)
    yield week
    with progress("predicting the week's passes"):
        passes = predict(week.start, week.end)
    yield Predicted(passes)
    engine = None
    try:
        with progress("building the demo consortium's store"):
            migrate.upgrade(settings.database_url)
            engine = open_engine(settings.database_url)
            sessions = session_factory(engine)
            with sessions.begin() as session:
                consortium = build(
                    session, elements, stations, now=now, terms=data_terms(week, now)
                )
        yield Built(consortium)
        with (
            progress("sharing the pooled network fairly (CP-SAT, deterministic)"),
            sessions() as session,
        ):
            record, schedule = schedule_network(
                session,
                week.start,
                week.end,
                now=now,
                settings=SolverSettings(
                    time_limit_s=SCHEDULE_TIME_LIMIT_S,
                    workers=SOLVER_WORKERS,
                    deterministic=True,
                    subsolvers=SCHEDULE_SUBSOLVERS,
                ),
            )
            session.commit()
        shared = {"id": record.id, **schedule.to_dict(), "provenance": record.provenance}
        yield Shared(schedule, shared)
        with (
            progress("planning the observations fairly (CP-SAT, deterministic)"),
            sessions() as session,
        ):
            plan_record, plan, _ = plan_observations(
                session,
                week.start,
                week.end,
                now=now,
                settings=PlannerSettings(
                    time_limit_s=PLAN_TIME_LIMIT_S, workers=SOLVER_WORKERS, deterministic=True
                ),
                schedule_id=record.id,
            )
            session.commit()
        planned = {"id": plan_record.id, **plan.to_dict(), "provenance": plan_record.provenance}
        yield Planned(plan, planned)
        with progress("archiving the observations' stand-in products"), sessions() as session:
            archived = archive_plan(
                session, store_archive(settings, session), plan_record.id, now=now
            )
            rules = rule_examples(session, now)
        yield Archived(archived, settings.archive_folder, rules)
        with progress("studying a constellation's coverage of the partners' areas"):
            studied = study_coverage(sessions, week.start, now=now)
        yield studied
        with progress("analysing a light curve and a season of optical products"):
            with sessions() as session:
                blobs = store_archive(settings, session)
            analysed = demo_analysis.analyse(sessions, blobs, week.start, now=now)
        yield analysed
        with progress("running a contact: pointing plan, Doppler, link budget, station reports"):
            operated = demo_operations.operate(sessions, now=now)
        yield operated
    finally:
        if engine is not None:
            engine.dispose()
