"""Fake CelesTrak and Space-Track servers: real HTTP on 127.0.0.1, a free port, requests counted.

They serve OMM JSON made from the real element sets packaged with jointsat
(``jointsat/data/stations.tle``), like the real services: CelesTrak's GP and SupGP
queries with ETag and Last-Modified (and 304 to a matching conditional request),
Space-Track's login (a session cookie, which expires after ``session_queries``
queries if set: a 401 then) and ``gp`` class. A test makes them misbehave
with ``fault``: an error status, a body cut short, a malformed body, or no answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jointsat.orbits.elements import parse_elements

LAST_MODIFIED = "Fri, 10 May 2024 10:00:00 GMT"
COOKIE = "chocolatechip=fake-session"


def station_records() -> list[dict[str, Any]]:
    """Return the packaged stations' element sets as CelesTrak OMM JSON records."""
    text = (files("jointsat.data") / "stations.tle").read_text(encoding="utf-8")
    return [e.to_omm() for e in parse_elements(text, source="stations.tle").elements]


@dataclass
class Seen:
    """One request the fake server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str


@dataclass
class Fake:
    """A fake source: its records, the requests it saw, and how it misbehaves now."""

    records: list[dict[str, Any]] = field(default_factory=station_records)
    seen: list[Seen] = field(default_factory=list)
    fault: str | int | None = None  # an HTTP status, "partial", "malformed", "hang"
    identity: str = "operator@example.org"
    password: str = "s3cret-PASS"
    release: threading.Event = field(default_factory=threading.Event)
    base: str = ""
    session_queries: int | None = None  # Space-Track: queries a login session answers (None: all)
    cookie: str = ""  # Space-Track: the session cookie of the latest login ("": none yet)
    answered: int = 0  # Space-Track: queries the latest login session answered

    def etag(self) -> str:
        """Return the ETag of the records served now (it changes when they do)."""
        return f'"{hash(json.dumps(self.records)) & 0xFFFFFFFF:x}"'

    def count(self, prefix: str = "") -> int:
        """Return how many requests came to paths starting with ``prefix``."""
        return sum(s.path.startswith(prefix) for s in self.seen)

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        """Return the status, headers and body the real service would send."""
        if seen.path == "/ajaxauth/login":
            form = {k: v[0] for k, v in parse_qs(seen.body).items()}
            if form.get("identity") != self.identity or form.get("password") != self.password:
                return 200, {}, b'{"Login":"Failed"}'
            self.cookie = f"{COOKIE}-{self.count('/ajaxauth/login')}"
            self.answered = 0
            return 200, {"Set-Cookie": f"{self.cookie}; Path=/"}, b""
        if seen.path.startswith("/basicspacedata/"):
            expired = self.session_queries is not None and self.answered >= self.session_queries
            if not self.cookie or seen.headers.get("cookie") != self.cookie or expired:
                return 401, {}, b"not logged in"
            self.answered += 1
            return 200, {}, json.dumps(self._space_track(seen.path)).encode()
        if seen.path.startswith("/NORAD/elements/"):
            if seen.headers.get("if-none-match") == self.etag():
                return 304, {"ETag": self.etag()}, b""
            headers = {"ETag": self.etag(), "Last-Modified": LAST_MODIFIED}
            chosen = self._celestrak(seen.query)
            if not chosen:
                return 200, headers, b"No GP data found"
            return 200, headers, json.dumps(chosen).encode()
        return 404, {}, b"no such page"

    def _celestrak(self, query: dict[str, str]) -> list[dict[str, Any]]:
        if "CATNR" in query:
            return [r for r in self.records if str(r["NORAD_CAT_ID"]) == query["CATNR"]]
        if "NAME" in query:
            return [r for r in self.records if query["NAME"].upper() in str(r["OBJECT_NAME"])]
        return self.records

    def _space_track(self, path: str) -> list[dict[str, Any]]:
        parts = path.split("/")
        if "NORAD_CAT_ID" in parts:
            wanted = parts[parts.index("NORAD_CAT_ID") + 1].split(",")
            return [r for r in self.records if str(r["NORAD_CAT_ID"]) in wanted]
        return self.records


def _handler(fake: Fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(
                method,
                unquote(split.path),
                {k: v[0] for k, v in parse_qs(split.query).items()},
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length).decode() if length else "",
            )
            fake.seen.append(seen)
            if fake.fault == "hang":
                fake.release.wait(10)
                return
            status, headers, body = fake.answer(seen)
            if isinstance(fake.fault, int):
                status, body = fake.fault, b"refused"
            elif fake.fault == "malformed" and status == 200:
                body = body[: len(body) // 2]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fake.fault == "partial" and status == 200:
                body = body[: len(body) // 2]
                self.close_connection = True
            self.wfile.write(body)

    return Handler


@contextmanager
def serving(fake: Fake | None = None) -> Iterator[Fake]:
    """Run a fake source on 127.0.0.1 (a free port) until the block ends."""
    fake = fake or Fake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
