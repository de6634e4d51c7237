"""Build a consortium in a migrated store, and the service over it, for the service tests.

One ``Consortium`` per store: within ``with consortium.session() as s`` a test adds (``add_*``) the
admin, partners with their agreements, users (their tokens kept by name), satellites
with their element sets and payloads, ground stations and observation requests; ``serve()``
then gives a client of the service over it. The store comes migrated (the ``store_url`` fixture).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from jointsat.orbits.elements import Elements
from jointsat.orbits.freshness import DEFAULT_RULE, StaleRule
from jointsat.planning.problem import Imager
from jointsat.service.app import create_app
from jointsat.service.tokens import initialise, issue_token
from jointsat.settings import Settings
from jointsat.store.database import open_engine, session_factory
from jointsat.store.requests import check_request, fill_request, set_payload
from jointsat.store.tables import (
    Agreement,
    ElementSetRecord,
    GroundStation,
    ObservationRequest,
    Partner,
    Role,
    Satellite,
    SatelliteOperator,
    User,
)

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


PUBLIC = "public"  # the caller without a token
# The tokens of the users made here outlive any clock a test moves forward (expiry has
# its own tests, tests/service/test_tokens.py).
TOKENS_LIVE = timedelta(days=3650)


def bearer(token: str | None) -> dict[str, str]:
    """Return the authorisation header of a token (none without one)."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def element_set(e: Elements, *, now: datetime = NOW, **omm: Any) -> ElementSetRecord:
    """Return an element set's row, received at ``now``; ``omm`` overrides its fields."""
    return ElementSetRecord(
        epoch=e.epoch, omm={**e.to_omm(), **omm}, source="test", received_at=now
    )


class Consortium:
    """A migrated store at ``url`` being filled, and the tokens of its users by name."""

    def __init__(self, url: str, *, now: datetime = NOW) -> None:
        self.url = url
        self.now = now
        self.engine = open_engine(url)
        self.sessions = session_factory(self.engine)
        self.tokens: dict[str, str] = {}
        self._clients: list[TestClient] = []

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open a session committed at the end of the block."""
        with self.sessions.begin() as session:
            yield session

    def add_admin(self, session: Session, name: str = "admin") -> str:
        """Create the consortium admin; keep and return its token."""
        self.tokens[name] = initialise(
            session, name=name, now=self.now, expires_at=self.now + TOKENS_LIVE
        )
        return self.tokens[name]

    def add_partner(
        self,
        session: Session,
        code: str,
        share: float,
        *,
        name: str | None = None,
        agreement: Mapping[str, Any] | None = None,
    ) -> Partner:
        """Add a partner and, if ``agreement`` is given (its fields), its agreement."""
        partner = Partner(code=code, name=name or code.upper(), contribution_share=share)
        session.add(partner)
        if agreement is not None:
            session.add(Agreement(partner=partner, **agreement))
        session.flush()
        return partner

    def add_user(
        self, session: Session, name: str, role: Role, partner: Partner | None, key: str = ""
    ) -> str:
        """Add a user with a token; keep the token under ``key`` (the name) and return it."""
        user = User(name=name, role=role, partner=partner, created_at=self.now)
        session.add(user)
        self.tokens[key or name] = issue_token(
            session, user, now=self.now, expires_at=self.now + TOKENS_LIVE
        )
        return self.tokens[key or name]

    def add_satellite(
        self,
        session: Session,
        name: str,
        norad_id: int,
        operators: Mapping[Partner | int, float],
        elements: Sequence[Elements | ElementSetRecord] = (),
        *,
        payload: Imager | None = None,
        **fields: Any,
    ) -> Satellite:
        """Add a satellite, its operators (partner or id: fraction), element sets and payload."""
        satellite = Satellite(name=name, norad_id=norad_id, **fields)
        satellite.operators = [
            SatelliteOperator(partner_id=p, fraction=f)
            if isinstance(p, int)
            else SatelliteOperator(partner=p, fraction=f)
            for p, f in operators.items()
        ]
        satellite.element_sets = [
            e if isinstance(e, ElementSetRecord) else element_set(e, now=self.now) for e in elements
        ]
        if payload is not None:
            set_payload(satellite, payload)
        session.add(satellite)
        session.flush()
        return satellite

    def add_station(
        self,
        session: Session,
        name: str,
        owner: Partner,
        lat_deg: float,
        lon_deg: float,
        **fields: Any,
    ) -> GroundStation:
        """Add a ground station of ``owner``."""
        station = GroundStation(name=name, owner=owner, lat_deg=lat_deg, lon_deg=lon_deg, **fields)
        session.add(station)
        session.flush()
        return station

    def add_request(
        self, session: Session, partner: Partner | int, body: Mapping[str, Any]
    ) -> ObservationRequest:
        """Add a partner's observation request, its JSON ``body`` checked as the service does."""
        if isinstance(partner, int):
            partner = session.get_one(Partner, partner)
        record = ObservationRequest(partner=partner)
        fill_request(record, check_request(body, partner=partner.code), now=self.now)
        session.add(record)
        session.flush()
        return record

    def headers(self, who: str) -> dict[str, str]:
        """Return the authorisation header of a user by name (none for ``PUBLIC``)."""
        return {} if who == PUBLIC else bearer(self.tokens[who])

    def serve(
        self,
        *,
        archive_root: Path | None = None,
        clock: Callable[[], datetime] | None = None,
        stale_rule: StaleRule = DEFAULT_RULE,
    ) -> TestClient:
        """Return a client of the service over the store, its clock at ``now`` unless given."""
        settings = Settings(database_url=self.url, archive_root=archive_root, stale_rule=stale_rule)
        app = create_app(settings, clock=clock or (lambda: self.now))
        client = TestClient(app)
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Close the clients and the engine."""
        for client in self._clients:
            client.close()
        self.engine.dispose()
