"""Check that the migrations build exactly the tables the code declares, both ways, and
that the tables keep their rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from jointsat.settings import Settings
from jointsat.store import migrate
from jointsat.store.database import open_engine, session_factory
from jointsat.store.tables import (
    Agreement,
    Base,
    EphemerisRecord,
    GroundStation,
    ObservationRecord,
    ObservationRequest,
    Partner,
    PlanRecord,
    Satellite,
    Unavailability,
)

VERSION_TABLE = "alembic_version"


def _tables(url: str) -> set[str]:
    engine = open_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {VERSION_TABLE}
    finally:
        engine.dispose()


def test_upgrade_builds_what_the_tables_declare(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert _tables(database_url) == set(Base.metadata.tables)
    engine = open_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def _schema(url: str) -> dict[str, dict[str, Any]]:
    """Return each table's columns, keys, constraints (with names) and indexes, as reflected."""
    engine = open_engine(url)
    try:
        found = inspect(engine)
        schema = {}
        for table in sorted(set(found.get_table_names()) - {VERSION_TABLE}):
            columns = found.get_columns(table)
            keys = found.get_foreign_keys(table)
            schema[table] = {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in columns),
                "primary key": found.get_pk_constraint(table),
                "foreign keys": sorted(
                    (
                        k["name"],
                        tuple(k["constrained_columns"]),
                        k["referred_table"],
                        tuple(k["referred_columns"]),
                        k["options"].get("ondelete"),
                    )
                    for k in keys
                ),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in found.get_unique_constraints(table)
                ),
                "checks": sorted(
                    (c["name"], c["sqltext"]) for c in found.get_check_constraints(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in found.get_indexes(table)
                ),
            }
        return schema
    finally:
        engine.dispose()


def test_the_migrated_schema_is_the_declared_one_constraint_by_constraint(
    database_url: str,
) -> None:
    engine = open_engine(database_url)
    Base.metadata.create_all(engine)
    declared = _schema(database_url)
    Base.metadata.drop_all(engine)
    engine.dispose()
    migrate.upgrade(database_url)
    assert _schema(database_url) == declared


def test_downgrade_removes_everything_and_upgrade_runs_again(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.downgrade(database_url)
    assert _tables(database_url) == set()
    assert migrate.current_revision(database_url) is None
    migrate.upgrade(database_url)
    assert _tables(database_url) == set(Base.metadata.tables)


def test_rows_keep_utc_times_and_constraints_hold(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = open_engine(database_url)
    sessions = session_factory(engine)
    paris = timezone(timedelta(hours=1))
    with sessions.begin() as session:
        esa = Partner(code="esa", name="European Space Agency", contribution_share=0.6)
        session.add(esa)
        session.add(Agreement(partner=esa, embargo_days=365))
        station = GroundStation(name="Kiruna", owner=esa, lat_deg=67.86, lon_deg=20.96)
        station.unavailable.append(
            Unavailability(
                start=datetime(2024, 5, 10, 9, 0, tzinfo=paris),
                end_at=datetime(2024, 5, 10, 11, 0, tzinfo=paris),
                kind="maintenance",
            )
        )
        session.add(station)
    with sessions() as session:
        window = session.scalars(select(Unavailability)).one()
        assert window.start == datetime(2024, 5, 10, 8, 0, tzinfo=UTC)
        assert window.start.utcoffset() == timedelta(0)
        agreement = session.scalars(select(Agreement)).one()
        assert agreement.share is None  # None: the partner's contribution share
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(Partner(code="bad", name="Too big a share", contribution_share=1.5))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(Partner(code="esa", name="Same code", contribution_share=0.1))
    engine.dispose()


def test_the_database_url_comes_from_the_environment_or_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = Settings.from_environment({"JOINTSAT_DATABASE_URL": "postgresql://u@h/db"})
    assert given.database_url == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    url = Settings.from_environment({}).database_url
    assert url == f"sqlite:///{tmp_path}/jointsat/jointsat.db"
    assert (tmp_path / "jointsat").is_dir()


def test_every_write_bumps_the_store_revision_and_reads_do_not(database_url: str) -> None:
    from jointsat.store.database import store_revision

    migrate.upgrade(database_url)
    engine = open_engine(database_url)
    sessions = session_factory(engine)
    with sessions() as session:
        before = store_revision(session)
    with sessions.begin() as session:
        session.add(Partner(code="esa", name="ESA", contribution_share=0.5))
    with sessions() as session:
        after_insert = store_revision(session)
        session.scalars(select(Partner)).all()
    with sessions() as session:
        assert store_revision(session) == after_insert > before
    with sessions.begin() as session:
        session.scalars(select(Partner)).one().name = "European Space Agency"
    with sessions() as session:
        assert store_revision(session) > after_insert
    engine.dispose()


ARCHIVE_TABLES = ("products", "product_owners", "product_files", "audit_log")
SOURCE_TABLES = ("element_sources", "element_source_queries", "element_source_requests")
EPHEMERIS_TABLES = ("ephemerides",)  # revision 0011
IDENTITY_TABLES = ("store_identity",)  # revision 0012
DESIGN_TABLES = ("areas", "design_studies", "design_study_areas")  # revision 0013
ANALYSIS_TABLES = ("product_sources", "analysis_runs", "analysis_run_sources")  # revision 0014
OPERATIONS_TABLES = ("access_tokens", "events", "subscriptions", "deliveries")  # revision 0015


def test_planning_tables_keep_their_rules_and_history(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = open_engine(database_url)
    sessions = session_factory(engine)
    now = datetime(2024, 5, 10, tzinfo=UTC)
    with pytest.raises(IntegrityError), sessions.begin() as session:  # half a payload
        session.add(Satellite(name="HALF", norad_id=1, memory_mbit=100.0, imaging_rate_mbps=1.0))
    reversed_window = {"window_start": now, "window_end": now - timedelta(hours=1)}
    for bad in ({"gain": 0}, reversed_window, {"window_start": now}):
        row = {"kind": "earth", "gain": 1, "document": {}, "created_at": now, "updated_at": now}
        esa = Partner(code="esa", name="ESA", contribution_share=1.0)
        wrong = ObservationRequest(partner=esa, **{**row, **bad})
        with pytest.raises(IntegrityError), sessions.begin() as session:
            session.add(wrong)
    with sessions.begin() as session:
        esa = Partner(code="esa", name="ESA", contribution_share=1.0)
        satellite = Satellite(
            name="ISS",
            norad_id=25544,
            memory_mbit=100.0,
            imaging_rate_mbps=1.0,
            downlink_rate_mbps=0.0,
            slew_rate_deg_s=1.0,
            slew_accel_deg_s2=0.5,
            settle_s=0.0,
            observes="earth",
        )
        request = ObservationRequest(
            partner=esa,
            kind="earth",
            gain=3,
            document={"lat_deg": 1.0},
            created_at=now,
            updated_at=now,
        )
        plan = PlanRecord(
            created_at=now,
            start=now,
            end_at=now + timedelta(days=1),
            objective="fair",
            status="optimal",
            solver="test",
            total_gain=3,
            gap=0.0,
            document={},
            provenance={},
        )
        session.add_all([esa, satellite, request, plan])
        session.flush()
        request_id = request.id
        plan.observations = [
            ObservationRecord(
                request_id=request.id,
                request_ref=str(request.id),
                partner=esa,
                satellite=satellite,
                start=now,
                end_at=now + timedelta(seconds=10),
                gain=3,
                volume_mbit=10.0,
                target={"lat_deg": 1.0},
            )
        ]
    with sessions.begin() as session:  # withdrawing a request keeps the plan's record of it
        session.delete(session.scalars(select(ObservationRequest)).one())
    with sessions() as session:
        kept = session.scalars(select(ObservationRecord)).one()
        assert kept.request_id is None
        assert kept.request_ref == str(request_id)
        assert kept.target == {"lat_deg": 1.0}
    engine.dispose()
    migrate.downgrade(database_url, "0004", force=True)  # the payload goes, the satellite stays
    assert _tables(database_url) == set(Base.metadata.tables) - {
        *IDENTITY_TABLES,
        "observation_requests",
        "plans",
        "observations",
        *ARCHIVE_TABLES,
        *SOURCE_TABLES,
        *EPHEMERIS_TABLES,
        *DESIGN_TABLES,
        *ANALYSIS_TABLES,
        *OPERATIONS_TABLES,
    }
    engine = open_engine(database_url)
    columns = {c["name"] for c in inspect(engine).get_columns("satellites")}
    assert "memory_mbit" not in columns
    with engine.connect() as connection:
        assert connection.execute(text("SELECT norad_id FROM satellites")).scalars().all() == [
            25544
        ]
    engine.dispose()


def test_ephemerides_go_with_their_satellite_and_with_revision_0011(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = open_engine(database_url)
    sessions = session_factory(engine)
    now = datetime(2024, 5, 10, tzinfo=UTC)
    with sessions.begin() as session:
        satellite = Satellite(name="ISS", norad_id=25544)
        satellite.ephemerides = [
            EphemerisRecord(
                source="iss.oem",
                received_at=now,
                created_at=now,
                coverage_start=now,
                coverage_end=now + timedelta(days=1),
                frame="EME2000",
                raw="CCSDS_OEM_VERS = 2.0",
            )
        ]
        session.add(satellite)
    with engine.begin() as connection:  # the database deletes them with the satellite
        connection.execute(text("DELETE FROM satellites"))
        assert connection.execute(text("SELECT count(*) FROM ephemerides")).scalar() == 0
    engine.dispose()
    migrate.downgrade(database_url, "0010")
    assert _tables(database_url) == set(Base.metadata.tables) - {
        *EPHEMERIS_TABLES,
        *IDENTITY_TABLES,
        *DESIGN_TABLES,
        *ANALYSIS_TABLES,
        *OPERATIONS_TABLES,
    }
    migrate.upgrade(database_url)
    assert _tables(database_url) == set(Base.metadata.tables)


def _populate(url: str, folder: Path) -> None:
    """Fill a store at the head revision: partners, a satellite, an agreement, a product."""
    from jointsat.archive.blobs import BlobStore
    from jointsat.archive.metadata import metadata_from_dict
    from jointsat.store.products import StoredFile, record_product
    from jointsat.store.tables import SatelliteOperator

    engine = open_engine(url)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        esa = Partner(code="esa", name="ESA", contribution_share=0.6)
        nasa = Partner(code="nasa", name="NASA", contribution_share=0.4)
        operators = [SatelliteOperator(partner=esa, fraction=1.0)]
        session.add(Satellite(norad_id=44874, name="CHEOPS", operators=operators))
        session.add_all([nasa, Agreement(partner=esa, embargo_days=30, public_release_days=365)])
    frame = folder / "frame.fits"
    frame.write_bytes(b"a frame " * 100)
    with sessions() as session:
        document = {
            "satellite": 44874,
            "instrument": "CCD",
            "processing_level": "L1",
            "acquired_start": "2024-05-10T10:00:00Z",
            "acquired_end": "2024-05-10T10:12:00Z",
        }
        record_product(
            session,
            metadata_from_dict(document),
            [StoredFile(frame.name, BlobStore(folder / "archive").put_file(frame))],
            now=datetime(2024, 5, 11, tzinfo=UTC),
        )
    engine.dispose()


def _rows(url: str) -> dict[str, int]:
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            return {
                name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                for name in sorted(inspect(connection).get_table_names())
            }
    finally:
        engine.dispose()


def test_a_downgrade_that_would_lose_data_is_refused_and_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    migrate.upgrade(database_url)
    _populate(database_url, tmp_path)
    schema, rows = _schema(database_url), _rows(database_url)
    for target in ("base", "0005", "0011"):  # 0011: the store's identity and the events go
        if target == "0011":  # the product's ingest recorded its product.archived event
            assert migrate.downgrade_losses(database_url, target) == ["1 row(s) of events dropped"]
            continue
        with pytest.raises(migrate.DataLossError) as refused:
            migrate.downgrade(database_url, target)
        assert "product_files" in str(refused.value)
        assert "\n" not in str(refused.value)
        assert migrate.current_revision(database_url) == migrate.head_revision()
        assert _schema(database_url) == schema
        assert _rows(database_url) == rows


def test_a_forced_downgrade_ends_exactly_at_its_target(database_url: str, tmp_path: Path) -> None:
    """The store is then what a new store migrated to that revision is, table by table."""
    migrate.upgrade(database_url)
    _populate(database_url, tmp_path)
    lost = migrate.downgrade(database_url, "0005", force=True)  # the archive's tables go
    assert "1 row(s) of products dropped" in lost
    assert migrate.current_revision(database_url) == "0005"
    forced = _schema(database_url)
    assert _rows(database_url)["partners"] == 2  # what 0005 holds stays
    migrate.downgrade(database_url, "base", force=True)
    assert _tables(database_url) == set()
    migrate.upgrade(database_url, "0005")
    assert _schema(database_url) == forced
    migrate.upgrade(database_url)  # and the store goes up again
    assert _tables(database_url) == set(Base.metadata.tables)


@pytest.mark.parametrize("fails_at", [1, 4])
def test_a_downgrade_failing_midway_leaves_the_store_at_its_revision(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails_at: int
) -> None:
    """A failure injected in the Nth table drop of a downgrade across several revisions."""
    from jointsat.store.migrations import schema as builders

    migrate.upgrade(database_url)
    _populate(database_url, tmp_path)
    schema, rows = _schema(database_url), _rows(database_url)
    drop = builders.drop_table
    dropped: list[str] = []

    def failing(name: str, indexes: Any = ()) -> None:
        if len(dropped) + 1 == fails_at:
            raise RuntimeError(f"injected failure before dropping {name}")
        drop(name, indexes)
        dropped.append(name)

    monkeypatch.setattr(builders, "drop_table", failing)
    with pytest.raises(RuntimeError, match="injected"):
        migrate.downgrade(database_url, "0004", force=True)
    assert len(dropped) == fails_at - 1
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert _schema(database_url) == schema
    assert _rows(database_url) == rows
    monkeypatch.setattr(builders, "drop_table", drop)
    migrate.downgrade(database_url, "0004", force=True)  # nothing was left half done
    assert migrate.current_revision(database_url) == "0004"
