"""Query Space-Track's ``gp`` class as OMM JSON, within its usage policy.

One login (``/ajaxauth/login``) per client, its session cookie reused for every query
(logged in again once when it expires: a 401 to a query);
at most 20 requests a minute and 300 an hour, counted in the store across processes
(Space-Track's own limits are 30 and 300); the same element query at most once an hour
(served from the store meanwhile). The account comes from the settings; neither its
identity nor its password is ever logged or put in a message.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy.orm import Session

from jointsat.errors import SourceError
from jointsat.settings import SPACETRACK_CREDENTIALS_VARIABLE, SPACETRACK_USER_VARIABLE, Credentials
from jointsat.sources.http import Answer, Transport
from jointsat.sources.source import LOG, Limit, Query, Source, decoded

LOGIN_PATH = "/ajaxauth/login"
GP_QUERY = "/basicspacedata/query/class/gp"
NUMBERS_PER_QUERY = 100  # catalog numbers in one query, so that its URL stays short


class SpaceTrack(Source):
    """Space-Track's current GP element sets (the ``gp`` class)."""

    name = "spacetrack"
    kind = "spacetrack"
    label = "Space-Track"
    query_interval = timedelta(hours=1)
    limits = (Limit(20, timedelta(minutes=1)), Limit(300, timedelta(hours=1)))

    def __init__(
        self, base_url: str, credentials: Credentials | None, transport: Transport | None = None
    ) -> None:
        super().__init__(base_url, transport)
        self._credentials = credentials
        self._logged_in = False
        self._fresh = False  # logged in for the query being sent: the session is new

    def paths(self, query: Query) -> list[str]:
        """Return the gp queries that answer the query (Space-Track has no groups)."""
        if query.catnrs:
            numbers = list(dict.fromkeys(query.catnrs))
            chunks = [
                numbers[i : i + NUMBERS_PER_QUERY]
                for i in range(0, len(numbers), NUMBERS_PER_QUERY)
            ]
            return [_gp_path("NORAD_CAT_ID", ",".join(map(str, c))) for c in chunks]
        if query.intdes is not None:
            return [_gp_path("OBJECT_ID", f"~~{query.intdes.strip()}")]
        if query.name is not None:
            return [_gp_path("OBJECT_NAME", f"~~{query.name.strip()}")]
        raise SourceError("Space-Track has no groups: ask for catalog numbers, a launch or a name")

    def prepare(self, session: Session, now: datetime) -> None:
        """Log in before the first query this client sends; its cookie serves the others.

        Called before each query: a later one goes with a session already used (not fresh).
        """
        if self._logged_in:
            self._fresh = False
            return
        if self._credentials is None:
            raise SourceError(
                f"Space-Track needs an account: set {SPACETRACK_USER_VARIABLE} and its password, "
                f"or {SPACETRACK_CREDENTIALS_VARIABLE}"
            )
        self.check_blocked(session)
        form = {"identity": self._credentials.identity, "password": self._credentials.password}
        answer = self.request(session, LOGIN_PATH, now, form=form)
        if "failed" in decoded(answer, "Space-Track login").lower():
            raise SourceError("Space-Track refused the login: check the account's settings")
        self._logged_in = True
        self._fresh = True

    def renewed(self, session: Session, path: str, answer: Answer, now: datetime) -> bool:
        """Log in again once when a session that served queries has expired (a 401).

        A 401 to the first query after a login (the session is new) blocks the source.
        """
        if answer.status != 401 or path == LOGIN_PATH or self._fresh:
            return False
        LOG.info("Space-Track: the login session expired; logging in again")
        self._logged_in = False
        self.prepare(session, now)
        return True


def _gp_path(field: str, value: str) -> str:
    """Return the gp query selecting ``field`` = ``value``, newest first per object, as JSON."""
    return f"{GP_QUERY}/{field}/{quote(value, safe=',~')}/orderby/NORAD_CAT_ID/format/json"
