"""Keep secrets out of the server's logs: query strings that carry tokens are redacted.

The API reads tokens only from the ``Authorization`` header, but a client may still
send one as ``?access_token=`` (as some conventions do); uvicorn's access log would
then write it in clear. A filter on that log replaces the value of every parameter
named like a secret, and any ``jst_`` token wherever it stands, with ``REDACTED``.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, unquote

from jointsat.service.tokens import TOKEN_PREFIX

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "REDACTED"
SECRET_PARAMETERS = frozenset(
    {"access_token", "token", "api_key", "apikey", "key", "password", "secret", "auth"}
)
_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]+")


def redact_target(target: str) -> str:
    """Return a request target (path and query) with its secrets replaced by ``REDACTED``."""
    path, mark, query = target.partition("?")
    if mark:
        parts = []
        for field in query.split("&"):
            name, equals, _ = field.partition("=")
            if equals and unquote(name.replace("+", " ")).lower() in SECRET_PARAMETERS:
                field = f"{name}={REDACTED}"
            parts.append(field)
        target = f"{path}?{'&'.join(parts)}"
    target = _TOKEN.sub(REDACTED, target)
    # A token percent-encoded past the pattern (jst%5F...) is caught decoded.
    decoded = unquote(target)
    if _TOKEN.search(decoded):
        target = quote(_TOKEN.sub(REDACTED, decoded), safe="/?&=%:@,;+")
    return target


class RedactSecrets(logging.Filter):
    """Rewrite uvicorn's access records so that no secret in a request target is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
        return True


def redact_access_log() -> None:
    """Add the filter to uvicorn's access log, once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
