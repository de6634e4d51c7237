"""Sign the webhooks sent to subscribers, check a signature, and space out the retries.

The scheme is Stripe's: a webhook's request carries the header

    X-Jointsat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>

where the HMAC is keyed with the subscriber's secret (as UTF-8) over the bytes
``<t>.<body>``: the timestamp, a full stop, then the request's body exactly as sent.
A receiver recomputes it over the body it got, compares in constant time, and
refuses a timestamp more than ``TOLERANCE_S`` from its own clock, so that a request
recorded on the way cannot be replayed later. Several ``v1=`` values may be given (a
secret being changed); one that matches is enough.

A delivery that fails (no answer, or a status other than 2xx) is tried again after
``retry_delay_s(attempts)``: 10 s, 20 s, 40 s ... doubling, at most an hour apart, for
``MAX_ATTEMPTS`` tries in all (about 21 minutes); then it is given up as failed.

Pure: the times are arguments.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Jointsat-Signature"
EVENT_ID_HEADER = "X-Jointsat-Event-Id"
EVENT_KIND_HEADER = "X-Jointsat-Event-Kind"
SCHEME = "v1"
TOLERANCE_S = 300
"""The most a signature's timestamp may differ from the receiver's clock (s)."""

BASE_DELAY_S = 10.0
MAX_DELAY_S = 3600.0
MAX_ATTEMPTS = 8
"""Tries of one delivery before it is given up (the first one included)."""


def signature(secret: str, timestamp_s: int, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``<timestamp_s>.<body>`` keyed with ``secret``."""
    signed = str(int(timestamp_s)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp_s: int, body: bytes) -> str:
    """Return the ``X-Jointsat-Signature`` header for ``body`` sent at ``timestamp_s``."""
    return f"t={int(timestamp_s)},{SCHEME}={signature(secret, timestamp_s, body)}"


def parse(header: str) -> tuple[int, list[str]] | None:
    """Return a header's timestamp and its ``v1`` signatures; None: not of this scheme."""
    timestamp: int | None = None
    found: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if not value.isdigit() or timestamp is not None:
                return None
            timestamp = int(value)
        elif key == SCHEME:
            found.append(value)
    if timestamp is None or not found:
        return None
    return timestamp, found


def verify(
    secret: str, header: str, body: bytes, now_s: float, tolerance_s: float = TOLERANCE_S
) -> bool:
    """Return whether ``header`` signs ``body`` with ``secret`` and is recent at ``now_s``.

    False for a header of another form, a timestamp more than ``tolerance_s`` from
    ``now_s`` (either way), or no ``v1`` signature that matches (compared in constant time).
    """
    parsed = parse(header)
    if parsed is None:
        return False
    timestamp, given = parsed
    if abs(now_s - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in given)


def retry_delay_s(attempts: int) -> float:
    """Return how long to wait after the ``attempts``-th failed try (1: the first) (s)."""
    if attempts < 1:
        raise ValueError(f"attempts counts the tries made: at least 1, not {attempts}")
    return min(BASE_DELAY_S * 2.0 ** (attempts - 1), MAX_DELAY_S)


def gives_up(attempts: int) -> bool:
    """Return whether a delivery tried ``attempts`` times without success is given up."""
    return attempts >= MAX_ATTEMPTS
