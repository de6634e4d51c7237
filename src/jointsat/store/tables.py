"""Declare the consortium's tables (SQLAlchemy 2); the API's schemas live apart from them.

Times are timezone-aware UTC datetimes; units live in column names.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    MappedColumn,
    Relationship,
    declared_attr,
    mapped_column,
    relationship,
)
from sqlalchemy.sql.expression import true

from jointsat.operations.lifecycle import ContactState as ContactState  # kept here too

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Store timezone-aware datetimes as UTC and give them back aware, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every table, with constraint names Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


class Visibility(enum.StrEnum):
    """Say who outside a partner may see its stations or satellites."""

    PRIVATE = "private"
    CONSORTIUM = "consortium"
    PUBLIC = "public"


class Role(enum.StrEnum):
    """Name what a user may do: everything, its partner's things, or only read."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class AreaVisibility(enum.StrEnum):
    """Say who sees a partner's area of interest: its own users, or every member."""

    PRIVATE = "private"
    CONSORTIUM = "consortium"


class StudyKind(enum.StrEnum):
    """Say what a design study computes: one coverage study, or a sweep of designs."""

    COVERAGE = "coverage"
    SWEEP = "sweep"


class StudyStatus(enum.StrEnum):
    """Say where a background job (a design study, an analysis run) stands: waiting,
    running, finished, or failed (with why)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DeliveryStatus(enum.StrEnum):
    """Say where an event's delivery to one subscriber stands."""

    PENDING = "pending"  # to be tried (again) at ``next_attempt_at``
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last retry


class SubscriptionKind(enum.StrEnum):
    """Say how a subscriber hears of events: a signed webhook, or apprise (e-mail, chat)."""

    WEBHOOK = "webhook"
    APPRISE = "apprise"


class AccessKind(enum.StrEnum):
    """Say what a scoped token may do: report a station's contacts, or read a calendar."""

    STATION = "station"
    CALENDAR = "calendar"


class UnavailabilityKind(enum.StrEnum):
    """Say why a station cannot be used for a while."""

    MAINTENANCE = "maintenance"
    OUTAGE = "outage"


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        kind,
        name=name,
        values_callable=lambda k: [m.value for m in k],
        native_enum=False,
        length=20,
        validate_strings=True,
    )


def _reference(target: str, ondelete: str, **column: Any) -> MappedColumn[Any]:
    """Return a column that refers to ``target``'s id; deleting the target does ``ondelete``."""
    return mapped_column(ForeignKey(f"{target}.id", ondelete=ondelete), **column)


def _owned(back_populates: str, order_by: str | Literal[False] = False) -> Relationship[Any]:
    """Return the relationship to rows that live and die with this one, ordered if told."""
    return relationship(
        back_populates=back_populates, cascade="all, delete-orphan", order_by=order_by
    )


class Span:
    """A row that holds for a span of time, which ends after it starts."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[CheckConstraint]:
        return (CheckConstraint("end_at > start", name="end_after_start"),)

    start: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime] = mapped_column()


class Versioned:
    """A row that others may change: each UPDATE and DELETE names the version it read.

    SQLAlchemy adds ``WHERE version = <read>`` to the statement and moves the version
    on, so that of two writers who read the same version only the first succeeds (the
    other gets ``StaleDataError``); the service shows the version as the ETag.
    """

    version: Mapped[int] = mapped_column(Integer, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class Partner(Versioned, Base):
    """A member of the consortium and its contribution."""

    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint("contribution_share > 0 AND contribution_share <= 1", name="share_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contribution_share: Mapped[float] = mapped_column(Float)

    agreement: Mapped[Agreement | None] = _owned("partner")
    stations: Mapped[list[GroundStation]] = relationship(back_populates="owner")

    @property
    def share(self) -> float:
        """Return its share of the pooled network: the agreement's, else its contribution."""
        agreed = self.agreement.share if self.agreement is not None else None
        return self.contribution_share if agreed is None else agreed


class Agreement(Versioned, Base):
    """What a partner is entitled to, and what others may see of its assets (one per partner)."""

    __tablename__ = "agreements"
    __table_args__ = (
        CheckConstraint("share IS NULL OR (share > 0 AND share <= 1)", name="share_range"),
        CheckConstraint("embargo_days >= 0", name="embargo_not_negative"),
        CheckConstraint(
            "public_release_days IS NULL OR public_release_days >= 0",
            name="public_release_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = _reference("partners", "CASCADE", unique=True)
    share: Mapped[float | None] = mapped_column(Float)  # None: the contribution share
    priority_class: Mapped[int] = mapped_column(Integer, default=0)
    embargo_days: Mapped[int] = mapped_column(Integer, default=0)
    # Days after acquisition when its products become public (None: never).
    public_release_days: Mapped[int | None] = mapped_column(Integer)
    station_visibility: Mapped[Visibility] = mapped_column(
        _enum(Visibility, "visibility"), default=Visibility.CONSORTIUM
    )
    satellite_visibility: Mapped[Visibility] = mapped_column(
        _enum(Visibility, "visibility"), default=Visibility.CONSORTIUM
    )
    # The analysis pipelines run on each product of the partner's as it is archived
    # (names in ``jointsat.analysis.registry``), e.g. ["transits"]; None: none.
    analyses: Mapped[list[str] | None] = mapped_column(JSON)

    partner: Mapped[Partner] = relationship(back_populates="agreement")


PAYLOAD_COMPLETE = (
    "memory_mbit IS NULL OR (memory_mbit > 0"
    " AND COALESCE(imaging_rate_mbps, 0) > 0 AND COALESCE(downlink_rate_mbps, -1) >= 0"
    " AND COALESCE(slew_rate_deg_s, 0) > 0 AND COALESCE(slew_accel_deg_s2, 0) > 0"
    " AND COALESCE(settle_s, -1) >= 0 AND observes IS NOT NULL)"
)
"""A satellite that observes has every payload field (NULL would pass a plain comparison)."""


class Satellite(Versioned, Base):
    """A satellite of the consortium, known by its catalog number."""

    __tablename__ = "satellites"
    __table_args__ = (
        CheckConstraint(
            "daily_demand_s IS NULL OR (daily_demand_s >= 0 AND daily_demand_s <= 86400)",
            name="daily_demand_range",
        ),
        CheckConstraint(PAYLOAD_COMPLETE, name="payload_complete"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    norad_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Contact seconds per day that are useful to it (None: all of them), for scheduling.
    daily_demand_s: Mapped[float | None] = mapped_column(Float)
    # Its observing payload, for planning (memory_mbit None: it does not observe).
    memory_mbit: Mapped[float | None] = mapped_column(Float)
    imaging_rate_mbps: Mapped[float | None] = mapped_column(Float)
    downlink_rate_mbps: Mapped[float | None] = mapped_column(Float)
    slew_rate_deg_s: Mapped[float | None] = mapped_column(Float)
    slew_accel_deg_s2: Mapped[float | None] = mapped_column(Float)
    settle_s: Mapped[float | None] = mapped_column(Float)
    observes: Mapped[str | None] = mapped_column(String(20))  # "earth", "sky" or "earth,sky"
    # Its radio links (``orbits.radio.Link`` fields: frequencies, transponder, EIRP, rate).
    links: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    operators: Mapped[list[SatelliteOperator]] = _owned("satellite")
    # The sets predictions use: one per epoch, the preferred source's (ElementSetRecord).
    element_sets: Mapped[list[ElementSetRecord]] = relationship(
        back_populates="satellite",
        cascade="all, delete-orphan",
        order_by="ElementSetRecord.epoch",
        primaryjoin="and_(Satellite.id == ElementSetRecord.satellite_id, ElementSetRecord.chosen)",
    )
    # Every set kept, whatever its source, by epoch then arrival (the database deletes
    # them with the satellite).
    element_history: Mapped[list[ElementSetRecord]] = relationship(
        viewonly=True, order_by="(ElementSetRecord.epoch, ElementSetRecord.id)"
    )
    # Uploaded ephemerides (OEM), by arrival: preferred to element sets where they cover.
    ephemerides: Mapped[list[EphemerisRecord]] = _owned("satellite", "EphemerisRecord.id")


class SatelliteOperator(Base):
    """A partner's fraction of a satellite (the fractions of one satellite sum to 1)."""

    __tablename__ = "satellite_operators"
    __table_args__ = (CheckConstraint("fraction > 0 AND fraction <= 1", name="fraction_range"),)

    satellite_id: Mapped[int] = _reference("satellites", "CASCADE", primary_key=True)
    partner_id: Mapped[int] = _reference("partners", "RESTRICT", primary_key=True)
    fraction: Mapped[float] = mapped_column(Float)

    satellite: Mapped[Satellite] = relationship(back_populates="operators")
    partner: Mapped[Partner] = relationship()


class ElementSetRecord(Base):
    """One element set of a satellite, as OMM fields, with where and when it came from.

    Every set is kept, with its source's kind (``settings.SOURCE_KINDS``), the source
    itself (a file name, a query) and the record as it was received (``raw``; None
    before revision 0010). Several kinds may give the same epoch: one set per epoch is
    ``chosen``, the one predictions use, of the kind preferred when it arrived.
    """

    __tablename__ = "element_sets"
    __table_args__ = (
        UniqueConstraint("satellite_id", "epoch", "source_kind", name="satellite_epoch_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    satellite_id: Mapped[int] = _reference("satellites", "CASCADE", index=True)
    epoch: Mapped[datetime] = mapped_column()
    omm: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column()
    source_kind: Mapped[str] = mapped_column(String(20), default="upload", server_default="upload")
    raw: Mapped[str | None] = mapped_column(Text)
    chosen: Mapped[bool] = mapped_column(default=True, server_default=true())

    satellite: Mapped[Satellite] = relationship(back_populates="element_sets")


class EphemerisRecord(Base):
    """One ephemeris (a CCSDS OEM) of a satellite, kept as received, with what it covers.

    ``raw`` is the message as uploaded (KVN or XML); ``created_at`` its CREATION_DATE,
    ``coverage_start`` to ``coverage_end`` the span it predicts (its segments' usable
    spans, UTC), ``frame`` its REF_FRAME (several joined by ``/``).
    """

    __tablename__ = "ephemerides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    satellite_id: Mapped[int] = _reference("satellites", "CASCADE", index=True)
    source: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    coverage_start: Mapped[datetime] = mapped_column()
    coverage_end: Mapped[datetime] = mapped_column()
    frame: Mapped[str] = mapped_column(String(100))
    raw: Mapped[str] = mapped_column(Text)

    satellite: Mapped[Satellite] = relationship(back_populates="ephemerides")


class GroundStation(Versioned, Base):
    """A ground station owned by a partner and pooled in the consortium's network."""

    __tablename__ = "ground_stations"
    __table_args__ = (
        CheckConstraint("lat_deg >= -90 AND lat_deg <= 90", name="lat_range"),
        CheckConstraint("lon_deg >= -180 AND lon_deg <= 360", name="lon_range"),
        CheckConstraint("min_elevation_deg >= -90 AND min_elevation_deg < 90", name="min_el_range"),
        CheckConstraint("turnaround_s >= 0", name="turnaround_not_negative"),
        # Unique per partner, not across partners: a clash with another partner's
        # (perhaps private) station would tell that it exists.
        UniqueConstraint("partner_id", "name", name="partner_station_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    partner_id: Mapped[int] = _reference("partners", "RESTRICT", index=True)
    lat_deg: Mapped[float] = mapped_column(Float)
    lon_deg: Mapped[float] = mapped_column(Float)
    alt_m: Mapped[float] = mapped_column(Float, default=0.0)
    min_elevation_deg: Mapped[float] = mapped_column(Float, default=0.0)
    horizon_mask: Mapped[dict[str, list[float]] | None] = mapped_column(JSON)
    turnaround_s: Mapped[float] = mapped_column(Float, default=0.0)
    bands: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The antenna's rotator (``orbits.pointing.Rotator`` fields; None: the default model).
    rotator: Mapped[dict[str, float] | None] = mapped_column(JSON)
    # The receiving figure of merit, for link budgets (None: unknown).
    g_over_t_db_k: Mapped[float | None] = mapped_column(Float)

    owner: Mapped[Partner] = relationship(back_populates="stations")
    unavailable: Mapped[list[Unavailability]] = _owned("station", order_by="Unavailability.start")


class Unavailability(Span, Base):
    """A window in which a station cannot be used (maintenance or outage)."""

    __tablename__ = "station_unavailability"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = _reference("ground_stations", "CASCADE", index=True)
    kind: Mapped[UnavailabilityKind] = mapped_column(_enum(UnavailabilityKind, "unavailability"))
    reason: Mapped[str] = mapped_column(Text, default="")

    station: Mapped[GroundStation] = relationship(back_populates="unavailable")


class User(Base):
    """A person or system that calls the service, with a role and (but for admins) a partner."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role = 'admin' OR partner_id IS NOT NULL", name="partner_unless_admin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    partner_id: Mapped[int | None] = _reference("partners", "CASCADE", index=True)
    created_at: Mapped[datetime] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()  # None: enabled

    partner: Mapped[Partner | None] = relationship()
    tokens: Mapped[list[ApiToken]] = _owned("user")


class ApiToken(Base):
    """A bearer token, kept only as its SHA-256 hash; revoked tokens stay for the record.

    It works until ``expires_at`` unless revoked. ``mints``: it may create tokens for
    its user (an admin's tokens always may); a token it created records it in
    ``minted_by_id`` and is revoked with it. ``last_used_at`` is kept to the minute.
    """

    __tablename__ = "api_tokens"
    no_revision: ClassVar[bool] = True  # nothing cached is derived from tokens

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = _reference("users", "CASCADE", index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    mints: Mapped[bool] = mapped_column(default=False)
    minted_by_id: Mapped[int | None] = _reference("api_tokens", "SET NULL", index=True)
    last_used_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(back_populates="tokens")


class StoreRevision(Base):
    """A counter bumped by every write, so that readers can cache what they derive."""

    __tablename__ = "store_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class StoreIdentity(Base):
    """The store's random id (one row), which its archive records as its owner."""

    __tablename__ = "store_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(36))


class PassPrediction(Base):
    """One run of the pass engine: which element sets and stations, over which window.

    Stored passes are a cache: the same fingerprint (element-set versions, station
    geometry, window, engine version) always gives the same passes, so a prediction
    is made once and read back by every server process; deleting a satellite, an
    element set or a station forgets all predictions.
    """

    __tablename__ = "pass_predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    start: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime] = mapped_column()
    element_set_ids: Mapped[list[int]] = mapped_column(JSON)
    station_ids: Mapped[list[int]] = mapped_column(JSON)
    engine: Mapped[str] = mapped_column(String(100))
    computed_at: Mapped[datetime] = mapped_column()


class PassRecord(Base):
    """A predicted pass of a satellite over a station (from one prediction)."""

    __tablename__ = "passes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[int] = _reference("pass_predictions", "CASCADE", index=True)
    satellite_id: Mapped[int] = _reference("satellites", "CASCADE")
    station_id: Mapped[int] = _reference("ground_stations", "CASCADE")
    aos: Mapped[datetime] = mapped_column()
    tca: Mapped[datetime] = mapped_column()
    los: Mapped[datetime] = mapped_column()
    max_elevation_deg: Mapped[float] = mapped_column(Float)
    aos_azimuth_deg: Mapped[float] = mapped_column(Float)
    tca_azimuth_deg: Mapped[float] = mapped_column(Float)
    los_azimuth_deg: Mapped[float] = mapped_column(Float)
    sunlit: Mapped[bool] = mapped_column()
    truncated: Mapped[bool] = mapped_column()


class Solved:
    """What a schedule and a plan both keep: when, for which window, how well, and from what.

    ``status`` and ``gap`` are the solver's; ``document`` is the result as written,
    ``provenance`` what it was made from.
    """

    created_at: Mapped[datetime] = mapped_column()
    start: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20))
    solver: Mapped[str] = mapped_column(String(100))
    gap: Mapped[float] = mapped_column(Float)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)


class ScheduleRecord(Solved, Base):
    """A schedule of the pooled network, with the evidence and provenance that made it.

    ``document`` is the schedule as ``jointsat schedule`` writes it (status, levels,
    partners, bound, gap, solver, settings); ``provenance`` names the element-set
    versions, stations and pass prediction it was made from. A re-plan points to the
    schedule it replaces.
    """

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[str] = mapped_column(String(20))
    total_seconds: Mapped[float] = mapped_column(Float)
    replaces_id: Mapped[int | None] = _reference("schedules", "SET NULL", index=True)

    contacts: Mapped[list[ContactRecord]] = _owned("schedule", order_by="ContactRecord.start")


class ContactRecord(Span, Base):
    """A contact of a schedule: a whole pass of a satellite over a station."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = _reference("schedules", "CASCADE", index=True)
    satellite_id: Mapped[int] = _reference("satellites", "RESTRICT")
    station_id: Mapped[int] = _reference("ground_stations", "RESTRICT", index=True)
    max_elevation_deg: Mapped[float] = mapped_column(Float)
    # Its lifecycle: the state, why (a failure's reason), what the station reported.
    state: Mapped[ContactState] = mapped_column(
        _enum(ContactState, "contact_state"), server_default=ContactState.SCHEDULED.value
    )
    state_reason: Mapped[str | None] = mapped_column(Text)
    state_changed_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    bytes_received: Mapped[int | None] = mapped_column(BigInteger)

    schedule: Mapped[ScheduleRecord] = relationship(back_populates="contacts")
    satellite: Mapped[Satellite] = relationship()
    station: Mapped[GroundStation] = relationship()


class ObservationRequest(Versioned, Base):
    """A partner's request to observe a target (``jointsat.planning.requests``).

    ``document`` holds the request as ``request_to_dict`` writes it, without its id
    and partner (the row's id and partner give them); kind, gain and window are
    repeated in columns so that the store can select by them. Restrictions to
    satellites name catalog numbers.
    """

    __tablename__ = "observation_requests"
    __table_args__ = (
        CheckConstraint("gain >= 1", name="gain_positive"),
        CheckConstraint(
            "(window_start IS NULL AND window_end IS NULL)"
            " OR (window_start IS NOT NULL AND window_end IS NOT NULL"
            " AND window_end > window_start)",
            name="window_ordered",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = _reference("partners", "RESTRICT", index=True)
    kind: Mapped[str] = mapped_column(String(10))
    gain: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime | None] = mapped_column()
    window_end: Mapped[datetime | None] = mapped_column()
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[int | None] = _reference("users", "SET NULL")

    partner: Mapped[Partner] = relationship()
    creator: Mapped[User | None] = relationship()


class PlanRecord(Solved, Base):
    """An observation plan, with the evidence and provenance that made it.

    ``document`` is the plan as ``Plan.to_dict`` writes it, without its observations
    (status, levels, partners' gains, bound, gap, unserved requests, memory, solver,
    settings); ``provenance`` names the element-set versions, the schedule whose
    contacts served as downlinks, the requests and the software.
    """

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    objective: Mapped[str] = mapped_column(String(20))
    total_gain: Mapped[int] = mapped_column(BigInteger)

    observations: Mapped[list[ObservationRecord]] = _owned(
        "plan", order_by="ObservationRecord.start"
    )


class ObservationRecord(Span, Base):
    """An observation of a plan: a satellite serving a request over a span.

    ``request_ref`` is the request's id as planned (its row id); ``request_id`` points
    to the row while it exists. ``target`` is the request as it was planned, so that
    the plan stays readable after the request changes or goes.
    """

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = _reference("plans", "CASCADE", index=True)
    request_id: Mapped[int | None] = _reference("observation_requests", "SET NULL", index=True)
    request_ref: Mapped[str] = mapped_column(String(64))
    partner_id: Mapped[int] = _reference("partners", "RESTRICT")
    satellite_id: Mapped[int] = _reference("satellites", "RESTRICT")
    second_start: Mapped[datetime | None] = mapped_column()
    gain: Mapped[int] = mapped_column(Integer)
    volume_mbit: Mapped[float] = mapped_column(Float)
    off_nadir_deg: Mapped[float | None] = mapped_column(Float)
    target: Mapped[dict[str, Any]] = mapped_column(JSON)

    plan: Mapped[PlanRecord] = relationship(back_populates="observations")
    partner: Mapped[Partner] = relationship()
    satellite: Mapped[Satellite] = relationship()


class Product(Base):
    """A downlinked product in the archive: its files, acquisition, footprint and owners.

    The id is derived from the satellite and the files' SHA-256, so that ingesting the
    same bytes again finds the same product. ``members_from`` and ``public_from`` are
    when the other members and the public may see it (``jointsat.archive.rights``),
    kept in columns so that searches filter in SQL; they follow the owners' agreements.
    ``bbox_*`` bound the footprint (west > east when it crosses the antimeridian).
    """

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("acquired_end >= acquired_start", name="acquired_ordered"),
        CheckConstraint("ra_deg IS NULL OR (ra_deg >= 0 AND ra_deg < 360)", name="ra_range"),
        CheckConstraint("dec_deg IS NULL OR (dec_deg >= -90 AND dec_deg <= 90)", name="dec_range"),
    )
    # no no_revision: the products list and STAC search answers are cached (service.cache)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    satellite_id: Mapped[int] = _reference("satellites", "RESTRICT", index=True)
    instrument: Mapped[str] = mapped_column(String(100))
    processing_level: Mapped[str] = mapped_column(String(20))
    acquired_start: Mapped[datetime] = mapped_column(index=True)
    acquired_end: Mapped[datetime] = mapped_column()
    footprint: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    bbox_west: Mapped[float | None] = mapped_column(Float)
    bbox_south: Mapped[float | None] = mapped_column(Float)
    bbox_east: Mapped[float | None] = mapped_column(Float)
    bbox_north: Mapped[float | None] = mapped_column(Float)
    ra_deg: Mapped[float | None] = mapped_column(Float)
    dec_deg: Mapped[float | None] = mapped_column(Float)
    contact_id: Mapped[int | None] = _reference("contacts", "SET NULL")
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    members_from: Mapped[datetime] = mapped_column()
    public_from: Mapped[datetime | None] = mapped_column()
    ingested_at: Mapped[datetime] = mapped_column(index=True)
    ingested_by: Mapped[int | None] = _reference("users", "SET NULL")

    satellite: Mapped[Satellite] = relationship()
    owners: Mapped[list[ProductOwner]] = _owned("product", order_by="ProductOwner.partner_id")
    files: Mapped[list[ProductFile]] = _owned("product", order_by="ProductFile.name")
    source_links: Mapped[list[ProductSource]] = relationship(
        foreign_keys="ProductSource.product_id",
        back_populates="product",
        cascade="all, delete-orphan",
        order_by="ProductSource.position",
    )

    @property
    def source_ids(self) -> list[str]:
        """Return the ids of the products this one is derived from (none: not derived)."""
        return [link.source_id for link in self.source_links]

    @property
    def owner_ids(self) -> list[int]:
        """Return the owning partners' ids."""
        return [o.partner_id for o in self.owners]


class ProductOwner(Base):
    """A partner that owns a product (by default every operator of its satellite)."""

    __tablename__ = "product_owners"
    no_revision: ClassVar[bool] = True

    product_id: Mapped[str] = _reference("products", "CASCADE", primary_key=True)
    partner_id: Mapped[int] = _reference("partners", "RESTRICT", primary_key=True, index=True)

    product: Mapped[Product] = relationship(back_populates="owners")


class ProductSource(Base):
    """A product a derived product was made from (STAC's ``derived_from``).

    A derived product is seen only by who sees every source (``archive.rights``); a
    source cannot be deleted while a product derived from it remains.
    """

    __tablename__ = "product_sources"
    no_revision: ClassVar[bool] = True

    product_id: Mapped[str] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[str] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)

    product: Mapped[Product] = relationship(
        foreign_keys=[product_id], back_populates="source_links"
    )


class ProductFile(Base):
    """One file of a product, stored as a blob under its SHA-256."""

    __tablename__ = "product_files"
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size_not_negative"),)
    no_revision: ClassVar[bool] = True

    product_id: Mapped[str] = _reference("products", "CASCADE", primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))

    product: Mapped[Product] = relationship(back_populates="files")


class AuditEntry(Base):
    """One download of, or refused access to, a product: who, what, when, bytes, outcome.

    Append-only: nothing in jointsat updates or deletes a row, and the store refuses
    it (a trigger). Who is kept by name as well as id, so that the entry outlives the
    user; ``product_id`` is not a reference, so that refusals of ids that do not
    exist are kept too.
    """

    __tablename__ = "audit_log"
    no_revision: ClassVar[bool] = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    user_name: Mapped[str | None] = mapped_column(String(200))  # None: the public
    partner_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # "download", "read"
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    file_name: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(20))  # "served", "partial", "refused", ...
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    # How many accesses the row stands for: an anonymous client's refusals of a minute
    # after its first are counted in one row (store.products.RefusalTally).
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    client: Mapped[str | None] = mapped_column(String(64))  # an anonymous caller's address


class SourceState(Base):
    """An element-set source's state: blocked since when and why, and its last refresh.

    A blocked source is not queried until an operator unblocks it (``jointsat elements
    unblock``); CelesTrak asks clients to stop at the first answer that is not 200.
    """

    __tablename__ = "element_sources"
    no_revision: ClassVar[bool] = True  # nothing cached is derived from it

    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    blocked_at: Mapped[datetime | None] = mapped_column()
    blocked_reason: Mapped[str] = mapped_column(Text, default="")
    refreshed_at: Mapped[datetime | None] = mapped_column()
    refresh_summary: Mapped[str] = mapped_column(Text, default="")


class SourceQuery(Base):
    """A query of a source and its last good answer, so that it is not asked too often.

    ``asked_at`` is the last time it was sent (whatever came back): the sources' rules
    count from it. ``body`` and the validators (``etag``, ``last_modified``) are those of
    the last answer that could be used, ``answered_at`` when it came.
    """

    __tablename__ = "element_source_queries"
    __table_args__ = (UniqueConstraint("source", "query", name="source_query"),)
    no_revision: ClassVar[bool] = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    query: Mapped[str] = mapped_column(String(500))
    asked_at: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str | None] = mapped_column(Text)


class SourceRequest(Base):
    """One HTTP request sent to a source, so that its limits are counted across processes."""

    __tablename__ = "element_source_requests"
    no_revision: ClassVar[bool] = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(index=True)


class AreaRecord(Base):
    """A partner's area of interest for mission design, kept as a GeoJSON Feature.

    ``feature`` is the Feature as ``jointsat.design.areas.area_json`` writes it (its
    ``name`` and ``partner`` properties are the row's name and the partner's code).
    ``visibility``: ``private`` areas are seen by the partner's users and the admin only,
    ``consortium`` ones by every member (``jointsat.archive.rights``, design section).
    Names are unique per partner, not across partners, so that a clash tells nothing of
    another partner's private areas.
    """

    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("partner_id", "name", name="partner_area_name"),)
    no_revision: ClassVar[bool] = True  # nothing cached is derived from areas

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = _reference("partners", "RESTRICT", index=True)
    name: Mapped[str] = mapped_column(String(200))
    visibility: Mapped[AreaVisibility] = mapped_column(_enum(AreaVisibility, "area_visibility"))
    feature: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[int | None] = _reference("users", "SET NULL")

    partner: Mapped[Partner] = relationship()


class DesignStudyRecord(Base):
    """A mission-design study: what was asked, where it stands, and what it found.

    ``inputs`` is the request as checked (constellation specs, area ids, window, access
    rule, grid); ``summary`` the figures per area and partner (or, for a sweep, each
    design's row); ``points_parquet`` the per-point table as a Parquet file (a coverage
    study; loaded only when asked for); ``error`` why it failed. A study runs in the
    background: ``heartbeat_at`` is moved on while it runs, so that a study left
    ``running`` by a server that stopped can be told from one still running.
    """

    __tablename__ = "design_studies"
    no_revision: ClassVar[bool] = True  # nothing cached is derived from studies

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[StudyKind] = mapped_column(_enum(StudyKind, "study_kind"))
    status: Mapped[StudyStatus] = mapped_column(_enum(StudyStatus, "study_status"))
    partner_id: Mapped[int | None] = _reference("partners", "RESTRICT", index=True)
    created_by: Mapped[int | None] = _reference("users", "SET NULL")
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    points_parquet: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    points: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    partner: Mapped[Partner | None] = relationship()
    creator: Mapped[User | None] = relationship()
    area_links: Mapped[list[DesignStudyArea]] = _owned("study", "DesignStudyArea.position")

    @property
    def area_ids(self) -> list[int]:
        """Return the ids of the areas the study used, in the order given."""
        return [link.area_id for link in self.area_links]


class DesignStudyArea(Base):
    """An area a study used (the study refers to it; the area cannot go while it does)."""

    __tablename__ = "design_study_areas"
    no_revision: ClassVar[bool] = True

    study_id: Mapped[int] = _reference("design_studies", "CASCADE", primary_key=True)
    area_id: Mapped[int] = _reference("areas", "RESTRICT", primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    study: Mapped[DesignStudyRecord] = relationship(back_populates="area_links")
    area: Mapped[AreaRecord] = relationship()


class AnalysisRun(Base):
    """A run of an analysis pipeline on archived products: the job and what it made.

    A run is queued (by hand, or on ingest for the pipelines an agreement lists), then
    claimed and run by one process; it ends ``done`` with its derived product, or
    ``failed`` with the reason, and a failed run can be queued again (``attempts``
    counts the tries). ``heartbeat_at`` moves on while it runs, so that a run left
    ``running`` by a process that stopped is told from one still running. A run is
    seen by who sees every source product (``archive.rights.sees_derived``).
    """

    __tablename__ = "analysis_runs"
    no_revision: ClassVar[bool] = True  # nothing cached is derived from runs

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(50))
    version: Mapped[str] = mapped_column(String(20))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    trigger: Mapped[str] = mapped_column(String(20))  # "request", "ingest"
    status: Mapped[StudyStatus] = mapped_column(_enum(StudyStatus, "analysis_status"))
    partner_id: Mapped[int | None] = _reference("partners", "SET NULL", index=True)
    created_by: Mapped[int | None] = _reference("users", "SET NULL")
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[str | None] = _reference("products", "SET NULL", index=True)
    # The stored area it runs over (an area cannot go while a run refers to it).
    area_id: Mapped[int | None] = _reference("areas", "RESTRICT", index=True)
    created_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    product: Mapped[Product | None] = relationship()
    source_links: Mapped[list[AnalysisRunSource]] = _owned("run", "AnalysisRunSource.position")

    @property
    def source_ids(self) -> list[str]:
        """Return the ids of the products the run reads, in the order given."""
        return [link.product_id for link in self.source_links]


class AnalysisRunSource(Base):
    """A product an analysis run reads (it cannot be deleted while the run refers to it)."""

    __tablename__ = "analysis_run_sources"
    no_revision: ClassVar[bool] = True

    run_id: Mapped[int] = _reference("analysis_runs", "CASCADE", primary_key=True)
    product_id: Mapped[str] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)

    run: Mapped[AnalysisRun] = relationship(back_populates="source_links")
    product: Mapped[Product] = relationship()


class AccessToken(Base):
    """A token that does one thing: report one station's contacts, or read a calendar feed.

    Kept, like API tokens, as its SHA-256 hash. It acts as the user who made it and sees
    no more than that user; a calendar token is read from the feed's URL (calendar
    programs send no headers), so it may read that feed and nothing else. A station
    token names its station; a calendar token names a station or a partner.
    """

    __tablename__ = "access_tokens"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'station' AND station_id IS NOT NULL AND partner_id IS NULL)"
            " OR (kind = 'calendar' AND (station_id IS NULL) <> (partner_id IS NULL))",
            name="scope_named",
        ),
    )
    no_revision: ClassVar[bool] = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[AccessKind] = mapped_column(_enum(AccessKind, "access_kind"))
    user_id: Mapped[int] = _reference("users", "CASCADE", index=True)
    station_id: Mapped[int | None] = _reference("ground_stations", "CASCADE", index=True)
    partner_id: Mapped[int | None] = _reference("partners", "CASCADE", index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class EventRecord(Base):
    """Something partners may be told of: a contact's state, a schedule, an outage ...

    ``kind`` is one of ``operations.events.EventKind``; the ids say what it is about,
    and so who may see it (``service.access``: the satellite, the station, the product
    and, for a partner's own matter, the partner); ``payload`` is what subscribers get.
    Events are kept, in order, for the stream and the delivery log.
    """

    __tablename__ = "events"
    no_revision: ClassVar[bool] = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(40))
    satellite_id: Mapped[int | None] = mapped_column(Integer)
    station_id: Mapped[int | None] = mapped_column(Integer)
    product_id: Mapped[str | None] = mapped_column(String(32))
    partner_id: Mapped[int | None] = mapped_column(Integer)  # only this partner's matter
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class Subscription(Base):
    """A subscriber: where events go (a webhook URL or an apprise URL), for which kinds.

    It acts as the user who made it: it is sent only events that user may see. A
    webhook's body is signed with ``secret`` (HMAC-SHA256, ``operations.signing``).
    """

    __tablename__ = "subscriptions"
    no_revision: ClassVar[bool] = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = _reference("users", "CASCADE", index=True)
    kind: Mapped[SubscriptionKind] = mapped_column(_enum(SubscriptionKind, "subscription_kind"))
    target: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(200))
    kinds: Mapped[list[str] | None] = mapped_column(JSON)  # None: every kind
    created_at: Mapped[datetime] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()
    # The events up to this id have been fanned out to it (``store.deliveries``).
    seen_event_id: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship()


class Delivery(Base):
    """One event's delivery to one subscriber: tried until delivered or out of retries."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("event_id", "subscription_id", name="event_subscription"),)
    no_revision: ClassVar[bool] = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = _reference("events", "CASCADE", index=True)
    subscription_id: Mapped[int] = _reference("subscriptions", "CASCADE", index=True)
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    response_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()

    event: Mapped[EventRecord] = relationship()
    subscription: Mapped[Subscription] = relationship()
