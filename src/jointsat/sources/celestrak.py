"""Query CelesTrak's GP and SupGP element sets as OMM JSON, within CelesTrak's usage policy.

CelesTrak updates its data at most every 2 hours: the same query is sent at most once
in 2 hours (the answer is served from the store meanwhile), and again only
conditionally (If-None-Match, If-Modified-Since) when CelesTrak sent validators. Any
answer but 200 (or 304) blocks CelesTrak, GP and SupGP alike, until an operator runs
``jointsat elements unblock celestrak``: CelesTrak firewalls clients that go on.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from jointsat.errors import SourceError
from jointsat.sources.source import Query, Source

GP_PATH = "/NORAD/elements/gp.php"
SUPGP_PATH = "/NORAD/elements/supplemental/sup-gp.php"


class CelesTrak(Source):
    """CelesTrak's GP data (the 18th SDS's element sets), one catalog number a request."""

    name = "celestrak"
    kind = "celestrak"
    label = "CelesTrak"
    query_interval = timedelta(hours=2)
    conditional = True
    path = GP_PATH
    group_key = "GROUP"

    def paths(self, query: Query) -> list[str]:
        """Return one request per catalog number, else the one request of the query."""
        if query.catnrs:
            return [self._path("CATNR", str(n)) for n in dict.fromkeys(query.catnrs)]
        key, value = (
            (self.group_key, query.group)
            if query.group is not None
            else ("INTDES", query.intdes)
            if query.intdes is not None
            else ("NAME", query.name)
        )
        assert value is not None
        if not value.strip():
            raise SourceError(f"{self.label}: an empty {key} asks for nothing")
        return [self._path(key, value.strip())]

    def _path(self, key: str, value: str) -> str:
        return f"{self.path}?{urlencode({key: value, 'FORMAT': 'json'})}"


class SupGP(CelesTrak):
    """CelesTrak's supplemental GP data, fitted to operators' ephemerides (several per object).

    SupGP has no GROUP: a group names one of its files (``FILE=``, e.g. ``starlink``).
    """

    kind = "supgp"
    label = "CelesTrak SupGP"
    path = SUPGP_PATH
    group_key = "FILE"
