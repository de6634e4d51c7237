"""The newcomer's path: the bundled files (``jointsat data``), the demo's archive rules
whatever the day, its own store and archive, and its deterministic solves."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

import jointsat
from jointsat.cli import app
from jointsat.files import BUNDLED_FILES

DATA = Path(jointsat.__file__).parent / "data"
QUIET = Console(file=io.StringIO())


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


# jointsat data


def test_data_list_names_every_bundled_file_with_its_path() -> None:
    result = invoke("data", "list")
    assert result.exit_code == 0, result.output
    shipped = {p.name for p in DATA.iterdir() if p.is_file()}
    assert set(BUNDLED_FILES) == shipped
    for name in shipped:
        assert f"{name}:" in result.stdout
        assert str(DATA / name) in result.stdout


def test_data_copy_gives_files_passes_reads(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    result = invoke("data", "copy", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(folder / name) for name in BUNDLED_FILES]
    for name in BUNDLED_FILES:
        assert (folder / name).read_bytes() == (DATA / name).read_bytes()
    passes = invoke(
        "passes", "-e", str(folder / "cheops.tle"), "-s", str(folder / "agency_stations.csv"),
        "--start", "2024-09-16", "--days", "1", "--format", "csv",
    )  # fmt: skip
    assert passes.exit_code == 0, passes.output
    assert passes.stdout.count("CHEOPS") > 5
    assert invoke("data", "copy", str(folder)).exit_code == 0  # the same files again


def test_data_copy_replaces_a_different_file_only_when_forced(tmp_path: Path) -> None:
    (tmp_path / "cheops.tle").write_text("mine\n")
    refused = invoke("data", "copy", str(tmp_path))
    assert refused.exit_code == 1
    assert "cheops.tle: a different file is there already" in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cheops.tle"]  # nothing copied
    assert (tmp_path / "cheops.tle").read_text() == "mine\n"
    assert invoke("data", "copy", str(tmp_path), "--force").exit_code == 0
    assert (tmp_path / "cheops.tle").read_bytes() == (DATA / "cheops.tle").read_bytes()


# The archive's rules at work whatever the day


def _expected_rule(code: str) -> str:
    """Return the rule a partner's products stand under, read from the demo's table."""
    from jointsat.demo import DATA_TERMS_FROM_NOW

    members, public = DATA_TERMS_FROM_NOW[code]
    if public is not None and public <= 0:
        return "public"
    return "members" if members <= 0 else "embargoed"


@pytest.mark.parametrize(
    "now", [datetime(2026, 12, 2, tzinfo=UTC), datetime(2031, 6, 1, 8, 30, tzinfo=UTC)]
)
def test_each_archive_rule_is_at_work_whatever_the_day(tmp_path: Path, now: datetime) -> None:
    """Products of each partner at both ends of the week, under the terms built for ``now``:
    a non-owner partner and the public see what the partner's rule says, no more."""
    from jointsat.archive.blobs import BlobStore
    from jointsat.archive.ingest import check_ingest, store_bytes
    from jointsat.archive.metadata import product_metadata
    from jointsat.archive.rights import Caller
    from jointsat.demo import PARTNERS, Rule, build, data_terms, rule_examples, week_of
    from jointsat.files import read_demo_elements, read_demo_stations
    from jointsat.store import migrate
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.products import visible

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    elements = read_demo_elements()
    week = week_of(elements)
    engine = open_engine(url)
    try:
        sessions = session_factory(engine)
        with sessions.begin() as session:
            demo = build(
                session, elements, read_demo_stations(), now=now, terms=data_terms(week, now)
            )
        blobs = BlobStore(tmp_path / "archive")
        owned: dict[str, list[str]] = {}
        with sessions() as session:
            for code in PARTNERS:
                for end in (week.start + timedelta(minutes=5), week.end):
                    metadata = product_metadata(
                        satellite=25544,
                        instrument="imager",
                        acquired_start=end - timedelta(minutes=5),
                        acquired_end=end,
                        owners=[code],
                    )
                    ingest = check_ingest(session, metadata, user=None)
                    stored = store_bytes(blobs, "note.json", f"{code} {end}".encode(), "text/plain")
                    product, _ = ingest.record(session, [stored], now=now)
                    owned.setdefault(code, []).append(product.id)
            rules = set()
            for code, ids in owned.items():
                rule = _expected_rule(code)
                rules.add(rule)
                other = next(i for c, i in demo.partners.items() if c != code)
                for product_id in ids:
                    seen_by_owner = visible(
                        session, Caller(partner_id=demo.partners[code]), now, product_id
                    )
                    seen_by_other = visible(session, Caller(partner_id=other), now, product_id)
                    seen_by_public = visible(session, Caller.public(), now, product_id)
                    assert seen_by_owner is not None
                    assert (seen_by_other is not None) == (rule != "embargoed"), (code, rule)
                    assert (seen_by_public is not None) == (rule == "public"), (code, rule)
            assert rules == {"embargoed", "members", "public"}
            examples = rule_examples(session, now)
            assert [e.rule for e in examples] == list(Rule)
            for example in examples:
                assert _expected_rule(example.owner) == example.rule.value
                assert example.owner in example.seen_by
                if example.rule is Rule.EMBARGOED:
                    assert example.seen_by == (example.owner,)
                assert ("public" in example.seen_by) == (example.rule is Rule.PUBLIC)
    finally:
        engine.dispose()


# The demo's own store and archive


def test_the_demo_store_is_remade_with_its_own_archive_never_a_shared_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jointsat import demo
    from jointsat.settings import Settings

    monkeypatch.setattr(demo, "user_data_folder", lambda: tmp_path)
    store = tmp_path / demo.DEMO_STORE_FILE_NAME
    store.write_text("an old demo store")
    shared = Settings(database_url=f"sqlite:///{store}").archive_folder
    (shared / "blobs").mkdir(parents=True)
    (shared / "blobs" / "kept").write_text("another store's product")
    url = demo.fresh_store_url()
    assert url == f"sqlite:///{store}"
    assert not store.exists()
    if shared == Settings(database_url=f"sqlite:///{tmp_path / 'jointsat.db'}").archive_folder:
        # The default store's archive is beside the demo's: it is left alone.
        assert (shared / "blobs" / "kept").is_file()
    else:  # the demo store's own archive is emptied with it
        assert not shared.exists()

    own = tmp_path / "jointsat-demo-archive"
    monkeypatch.setattr(
        Settings,
        "archive_folder",
        property(
            lambda self: own if self.database_url.endswith(store.name) else tmp_path / "archive"
        ),
    )
    (own / "blobs").mkdir(parents=True)
    (own / "blobs" / "old").write_text("the last run's product")
    (tmp_path / "archive").mkdir(exist_ok=True)
    (tmp_path / "archive" / "theirs").write_text("the default store's product")
    demo.fresh_store_url()
    assert not own.exists()
    assert (tmp_path / "archive" / "theirs").is_file()


# Deterministic solves


def _without_timing(document: Any) -> Any:
    """Return a schedule or plan document without what the clock decides."""
    if isinstance(document, dict):
        return {
            k: _without_timing(v)
            for k, v in document.items()
            if k not in ("wall_s", "created_at", "computed_at")
        }
    if isinstance(document, list):
        return [_without_timing(v) for v in document]
    return document


@pytest.mark.slow
def _check_operated(operated: Any, database_url: str) -> None:
    """The demo's contact went from its pointing plan to a delivered product."""
    from sqlalchemy import create_engine, text

    from jointsat.demo import DEMO_DOWNLINK
    from jointsat.demo_operations import Operated

    assert isinstance(operated, Operated)
    assert operated.states == ("scheduled", "confirmed", "executing", "completed")
    assert operated.max_lag_deg <= 1.0  # within half the 2-degree beam: no unwind, no lag
    assert operated.rows >= (operated.end - operated.start).total_seconds()  # every second
    # A LEO's range rate is below its orbital speed (7.8 km/s): f v / c bounds the shift.
    frequency_hz = float(DEMO_DOWNLINK["frequency_hz"])  # type: ignore[arg-type]
    assert 0.0 < operated.doppler_max_hz < frequency_hz * 7.8 / 299_792.458
    # What the station reported is the link's rate over the time the budget closed it.
    rate_bps = float(DEMO_DOWNLINK["data_rate_bps"])  # type: ignore[arg-type]
    assert operated.bytes_received == pytest.approx(rate_bps / 8 * operated.closed_s, rel=1e-6)
    assert operated.tally["delivered_contacts"] == 1
    assert operated.products
    engine = create_engine(database_url)
    with engine.connect() as connection:
        state, received = connection.execute(
            text("SELECT state, bytes_received FROM contacts WHERE id = :id"),
            {"id": operated.contact_id},
        ).one()
        linked = (
            connection.execute(
                text("SELECT id FROM products WHERE contact_id = :id ORDER BY id"),
                {"id": operated.contact_id},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert (state, received) == ("completed", operated.bytes_received)
    assert set(operated.products) <= set(linked)


def test_the_demo_makes_the_same_schedule_and_plan_at_every_run(tmp_path: Path) -> None:
    """Two runs with the same ``now``: the same documents but for the solvers' times."""
    from jointsat import demo
    from jointsat.cli.passes import predict
    from jointsat.files import read_demo_elements, read_demo_stations
    from jointsat.settings import Settings

    elements = read_demo_elements()
    stations = read_demo_stations()
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    runs = []
    for k in range(2):
        folder = tmp_path / str(k)
        folder.mkdir()
        settings = Settings(database_url=f"sqlite:///{folder / 'demo.db'}")
        steps = list(
            demo.run(
                settings,
                elements,
                stations,
                now=now,
                predict=lambda start, end: predict(
                    elements, stations, start, end, 0.0, QUIET, warn_stale=False
                ),
            )
        )
        found = {type(step).__name__: step for step in steps}
        shared, planned = found["Shared"], found["Planned"]
        assert isinstance(shared, demo.Shared)
        assert isinstance(planned, demo.Planned)
        assert shared.document["settings"]["deterministic"] is True
        runs.append(
            (
                json.dumps(_without_timing(shared.document), sort_keys=True),
                json.dumps(_without_timing(planned.document), sort_keys=True),
                found["Archived"],
            )
        )
        _check_operated(found["Operated"], settings.database_url)
    (schedule_a, plan_a, archived_a), (schedule_b, plan_b, archived_b) = runs
    assert schedule_a == schedule_b
    assert plan_a == plan_b
    assert isinstance(archived_a, demo.Archived)
    assert isinstance(archived_b, demo.Archived)
    assert archived_a.rules == archived_b.rules
    assert json.loads(plan_a)["observations"]
