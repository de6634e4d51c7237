"""Check the service's scheduled refresh and the admin's view of the element sources."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from tests.sources.fake import serving
from tests.support.consortium import Consortium

from jointsat.service.refresher import refresh_now
from jointsat.store.consortium import satellites
from jointsat.store.tables import Role

ISS = 25544


def test_the_service_refreshes_its_satellites_and_shows_the_admin_how(
    consortium: Consortium,
) -> None:
    with consortium.session() as session:
        consortium.add_admin(session)
        partner = consortium.add_partner(session, "ESA", 0.5)
        consortium.add_user(session, "viewer", Role.VIEWER, partner)
        consortium.add_satellite(session, "ISS", ISS, {partner: 1.0})
    with serving() as fake:
        client = consortium.serve(celestrak_url=fake.base, elements_refresh_hours=6.0)
        app = client.app
        assert isinstance(app, FastAPI)
        line = refresh_now(app)
        assert line.startswith("celestrak: 1 sets received, 1 new stored for 1 satellites")
        assert [s.query.get("CATNR") for s in fake.seen] == [str(ISS)]
        consortium.now += timedelta(minutes=30)  # the app's clock: within CelesTrak's 2 hours
        refresh_now(app)
        assert len(fake.seen) == 1
        fake.fault = 500
        consortium.now += timedelta(hours=3)
        failed = refresh_now(app)
        assert "refresh failed" in failed
        assert "500" in failed
    shown = client.get("/api/v1/elements/sources", headers=consortium.headers("admin"))
    assert shown.status_code == 200
    celestrak = shown.json()[0]
    assert celestrak["source"] == "celestrak"
    assert celestrak["blocked"] is True
    assert celestrak["last_refresh"] == failed
    assert (
        client.get("/api/v1/elements/sources", headers=consortium.headers("viewer")).status_code
        == 403
    )
    with consortium.session() as session:
        (iss,) = satellites(session)
        assert [e.source_kind for e in iss.element_sets] == ["celestrak"]


def test_the_service_refreshes_nothing_unless_told(consortium: Consortium) -> None:
    client = consortium.serve()
    assert not hasattr(client.app.state, "element_source")  # type: ignore[attr-defined]
