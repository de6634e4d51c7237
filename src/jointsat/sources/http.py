"""Send one HTTP request and read its whole answer: no redirect followed, a timeout kept.

The standard library's client is enough for the few requests a source takes, and it
adds no dependency to the service. A redirect is an answer like any other (CelesTrak
counts a client that follows its 301s as one that ignores its errors). A timeout, a
connection that fails or an answer cut short raises :class:`SourceError`, whose text
names the host, never a password (none is ever in a URL).
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from urllib.parse import urlencode, urlsplit

from jointsat import __version__
from jointsat.errors import SourceError

USER_AGENT = f"jointsat/{__version__}"
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Answer:
    """A source's answer: its status, its headers (names in lower case) and its body."""

    status: int
    reason: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand a redirect back as the answer instead of following it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Transport:
    """Send requests to one source, keeping its cookies (a login session) between them."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.cookies = CookieJar()
        self._opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def send(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send a GET (or a POST of ``form``) and return the whole answer."""
        data = urlencode(form).encode("ascii") if form is not None else None
        request = urllib.request.Request(
            url, data=data, headers={"User-Agent": USER_AGENT, **(headers or {})}
        )
        host = urlsplit(url).netloc
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                body = response.read()
                return Answer(response.status, response.reason, _lower(response.headers), body)
        except urllib.error.HTTPError as error:  # not 2xx: an answer all the same
            return Answer(error.code, str(error.reason), _lower(error.headers))
        except http.client.IncompleteRead as error:
            raise SourceError(
                f"{host}: the answer was cut off after {len(error.partial)} bytes"
            ) from None
        except TimeoutError:
            raise SourceError(f"{host}: no answer within {self.timeout_s:g} s") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SourceError(f"cannot reach {host}: {reason}") from None


def _lower(headers: object) -> dict[str, str]:
    """Return the headers with their names in lower case."""
    items = headers.items() if hasattr(headers, "items") else []
    return {str(k).lower(): str(v) for k, v in items}
