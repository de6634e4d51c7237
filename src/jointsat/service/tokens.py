"""Make API tokens, keep only their hashes, and decide which tokens are good.

A token works until it expires (``TokenLifetime``: a default and a maximum, in days)
or is revoked, and only while its user is enabled. Only an admin's token, or a token
made with the right to mint (``mints``), creates tokens: an admin's for anyone, with
or without that right; a minting token for its own user only, without the right and
expiring no later than itself, and such tokens are revoked with the one that made
them. When a token was last used is written at most once a minute per token, so
that reads do not each cost a commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from jointsat.errors import StoreError
from jointsat.service.access import changes, sees_station
from jointsat.settings import Settings
from jointsat.store.consortium import station_visibilities
from jointsat.store.tables import (
    AccessKind,
    AccessToken,
    ApiToken,
    GroundStation,
    Partner,
    Role,
    User,
)

TOKEN_PREFIX = "jst_"
LAST_USE_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenLifetime:
    """How long new tokens live: ``default_days`` unless told, never over ``max_days``."""

    default_days: int = Settings.token_days
    max_days: int = Settings.token_max_days

    def __post_init__(self) -> None:
        if not 1 <= self.default_days <= self.max_days:
            raise StoreError(
                f"token lifetime: the default ({self.default_days} days) must be at least 1"
                f" and at most the maximum ({self.max_days} days)"
            )

    @classmethod
    def of(cls, settings: Settings) -> TokenLifetime:
        """Return the lifetime the settings give (JOINTSAT_TOKEN_DAYS, JOINTSAT_TOKEN_MAX_DAYS)."""
        return cls(settings.token_days, settings.token_max_days)

    def expiry(self, now: datetime, days: int | None) -> datetime:
        """Return when a token made at ``now`` for ``days`` (None: the default) expires."""
        wanted = self.default_days if days is None else days
        if not 1 <= wanted <= self.max_days:
            raise StoreError(f"a token lives 1 to {self.max_days} days, not {wanted}")
        return now + timedelta(days=wanted)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    user: User,
    *,
    now: datetime,
    label: str = "",
    expires_at: datetime | None = None,
    mints: bool = False,
    minted_by: ApiToken | None = None,
) -> str:
    """Create a token for the user and return it: the only time it is seen in clear.

    ``expires_at`` None: the default lifetime from ``now``. ``minted_by``: the token
    that made it, with which it is revoked.
    """
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user=user,
            token_hash=hash_token(token),
            label=label,
            created_at=now,
            expires_at=expires_at or TokenLifetime().expiry(now, None),
            mints=mints,
            minted_by_id=None if minted_by is None else minted_by.id,
        )
    )
    return token


def may_mint(token: ApiToken) -> bool:
    """Return whether the token may create tokens: an admin's, or one made with the right."""
    return token.user.role is Role.ADMIN or token.mints


def live_token(session: Session, token: str, now: datetime) -> ApiToken | None:
    """Return the token's row if it is good now (known, not revoked or expired, user enabled)."""
    return session.scalars(
        select(ApiToken)
        .join(User)
        .where(
            ApiToken.token_hash == hash_token(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
            User.disabled_at.is_(None),
        )
    ).one_or_none()


def user_for_token(session: Session, token: str, now: datetime) -> User | None:
    """Return the user a good token belongs to, or None."""
    row = live_token(session, token, now)
    return None if row is None else row.user


class LastUse:
    """Write when tokens were last used, at most once per ``resolution`` per token.

    One per server process; the write is its own short transaction, guarded in SQL
    too, so that several processes together still write about once a minute.
    """

    def __init__(self, resolution: timedelta = LAST_USE_RESOLUTION) -> None:
        self.resolution = resolution
        self._written: dict[int, datetime] = {}
        self._lock = Lock()

    def note(self, session: Session, token: ApiToken, now: datetime) -> None:
        """Record that the token was used at ``now`` if its record is older than a minute."""
        stale = now - self.resolution
        with self._lock:
            written = self._written.get(token.id) or token.last_used_at
            if written is not None and written > stale:
                return
            self._written[token.id] = now
        try:
            session.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == token.id,
                    or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= stale),
                )
                .values(last_used_at=now)
            )
            session.commit()
        except SQLAlchemyError:  # a busy store: the next use writes it
            session.rollback()
            with self._lock:
                self._written.pop(token.id, None)


def initialise(
    session: Session, *, name: str, now: datetime, expires_at: datetime | None = None
) -> str:
    """Create the first consortium admin and return its token; refuse if one exists.

    ``expires_at`` None: the token lives the default lifetime.
    """
    if session.scalars(select(User).where(User.role == Role.ADMIN)).first() is not None:
        raise StoreError("the store already has a consortium admin; create tokens instead")
    admin = User(name=name, role=Role.ADMIN, partner_id=None, created_at=now)
    session.add(admin)
    return issue_token(
        session, admin, now=now, label="created by jointsat admin init", expires_at=expires_at
    )


def revoke(session: Session, token_id: int, *, now: datetime) -> ApiToken:
    """Revoke a token by its id, and the tokens it minted (revoking twice keeps the first time)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise StoreError(f"no token with id {token_id}")
    revoke_row(session, row, now=now)
    return row


def revoke_row(session: Session, row: ApiToken, *, now: datetime) -> None:
    """Revoke the token and every token it minted, keeping earlier revocation times."""
    minted = session.scalars(select(ApiToken).where(ApiToken.minted_by_id == row.id))
    for found in (row, *minted):
        if found.revoked_at is None:
            found.revoked_at = now


def revoke_all(session: Session, user: User, *, now: datetime) -> int:
    """Revoke every live token of the user; return how many were revoked."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def set_disabled(session: Session, user: User, disabled: bool, *, now: datetime) -> None:
    """Disable the user (its tokens are refused at once) or enable it again.

    Refuses to disable the last enabled admin, which would lock the consortium out
    of its own service (the command line could still get it back).
    """
    if not disabled:
        user.disabled_at = None
        return
    if user.disabled_at is not None:
        return
    if user.role is Role.ADMIN:
        others = session.scalars(
            select(User.id).where(
                User.role == Role.ADMIN, User.disabled_at.is_(None), User.id != user.id
            )
        ).first()
        if others is None:
            raise StoreError(f"{user.name!r} is the last enabled admin; it cannot be disabled")
    user.disabled_at = now


def user_named(session: Session, name: str) -> User:
    """Return the user of that name, or raise ``StoreError``."""
    found = session.scalars(select(User).where(User.name == name)).one_or_none()
    if found is None:
        raise StoreError(f"no user named {name!r}")
    return found


# --- scoped access tokens: a station's reports, a calendar feed ------------------------


def access_refusal(
    session: Session,
    user: User,
    kind: AccessKind,
    *,
    station_id: int | None = None,
    partner_id: int | None = None,
) -> str | None:
    """Return why the user may not hold such a token (None: it may).

    A station token: the station's owner's operators and the admin. A calendar token
    of a partner: that partner's users and the admin; of a station: who sees it.
    """
    if (station_id is None) == (partner_id is None) or (
        kind is AccessKind.STATION and station_id is None
    ):
        return "a station token names a station; a calendar token a station or a partner"
    if user.disabled_at is not None:
        return f"user {user.name!r} is disabled"
    if partner_id is not None:
        if session.get(Partner, partner_id) is None:
            return f"no partner with id {partner_id}"
        if user.role is not Role.ADMIN and user.partner_id != partner_id:
            return "only the partner's users or an admin may read its calendar"
        return None
    station = session.get(GroundStation, station_id)
    if station is None or not sees_station(user, station, station_visibilities(session)):
        return f"no station with id {station_id}"
    if kind is AccessKind.STATION and not changes(user, [station.partner_id]):
        return "only the station's operators or an admin may make its station token"
    return None


def issue_access_token(
    session: Session,
    user: User,
    kind: AccessKind,
    *,
    now: datetime,
    station_id: int | None = None,
    partner_id: int | None = None,
    label: str = "",
) -> str:
    """Create a scoped token acting as ``user`` and return it: the only time it is seen in clear.

    Raise ``StoreError`` when the user may not hold it (:func:`access_refusal`).
    """
    refusal = access_refusal(session, user, kind, station_id=station_id, partner_id=partner_id)
    if refusal is not None:
        raise StoreError(refusal)
    token = f"{TOKEN_PREFIX}{kind.value}_{secrets.token_urlsafe(32)}"
    session.add(
        AccessToken(
            token_hash=hash_token(token),
            kind=kind,
            user_id=user.id,
            station_id=station_id,
            partner_id=partner_id,
            label=label,
            created_at=now,
        )
    )
    return token


def access_token_row(session: Session, token: str) -> AccessToken | None:
    """Return the scoped token's row, whatever its state (None: unknown)."""
    return session.scalars(
        select(AccessToken).where(AccessToken.token_hash == hash_token(token))
    ).one_or_none()


def live_access_token(
    session: Session, token: str, kind: AccessKind, now: datetime
) -> AccessToken | None:
    """Return the scoped token's row if it is good now: of ``kind``, not revoked, user enabled.

    Its last use is noted (to the minute, committed with the caller's work).
    """
    row = session.scalars(
        select(AccessToken)
        .join(User, AccessToken.user_id == User.id)
        .where(
            AccessToken.token_hash == hash_token(token),
            AccessToken.kind == kind,
            AccessToken.revoked_at.is_(None),
            User.disabled_at.is_(None),
        )
    ).one_or_none()
    if row is not None and (
        row.last_used_at is None or row.last_used_at <= now - LAST_USE_RESOLUTION
    ):
        row.last_used_at = now
    return row


def access_tokens(session: Session, user: User) -> list[AccessToken]:
    """Return the scoped tokens the user manages, by id (see :func:`manages`)."""
    rows = session.scalars(select(AccessToken).order_by(AccessToken.id))
    return [r for r in rows if manages(session, user, r)]


def manages(session: Session, user: User, row: AccessToken) -> bool:
    """Return whether the user may see and revoke the scoped token.

    The admin any; a user the ones it made; operators those of their partner's
    stations and of their partner's calendar.
    """
    if user.role is Role.ADMIN or row.user_id == user.id:
        return True
    if user.role is not Role.OPERATOR:
        return False
    if row.partner_id is not None:
        return row.partner_id == user.partner_id
    station = session.get(GroundStation, row.station_id)
    return station is not None and station.partner_id == user.partner_id


def revoke_access_token(row: AccessToken, *, now: datetime) -> None:
    """Revoke the scoped token (revoking twice keeps the first time)."""
    if row.revoked_at is None:
        row.revoked_at = now
