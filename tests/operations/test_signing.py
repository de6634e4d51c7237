"""Webhook signatures: checked against an HMAC-SHA256 written out from RFC 2104."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from jointsat.operations.signing import (
    BASE_DELAY_S,
    MAX_ATTEMPTS,
    MAX_DELAY_S,
    TOLERANCE_S,
    gives_up,
    parse,
    retry_delay_s,
    sign,
    signature,
    verify,
)


def rfc2104_hmac_sha256(key: bytes, message: bytes) -> str:
    """HMAC by its definition (RFC 2104), from SHA-256 alone: not the ``hmac`` module."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\x00")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).hexdigest()


def test_the_reference_hmac_meets_rfc_4231() -> None:
    # RFC 4231, test cases 2 and 6 (a key longer than a block)
    assert rfc2104_hmac_sha256(b"Jefe", b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert rfc2104_hmac_sha256(
        b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"
    ) == ("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")


@pytest.mark.parametrize(
    ("secret", "t", "body"),
    [
        ("whsec_test", 1_700_000_000, b'{"id": 1, "kind": "schedule.created"}'),
        ("s" * 100, 0, b""),
        ("clé ü", 1_234_567_890, "donnée".encode()),
    ],
)
def test_the_signature_is_hmac_sha256_of_timestamp_dot_body(
    secret: str, t: int, body: bytes
) -> None:
    expected = rfc2104_hmac_sha256(secret.encode(), f"{t}.".encode() + body)
    assert signature(secret, t, body) == expected
    assert sign(secret, t, body) == f"t={t},v1={expected}"


def test_a_stripe_style_header_verifies_and_tampering_fails() -> None:
    # Stripe's documented form: t=<unix>,v1=<hex hmac of "<t>.<payload>">, others ignored
    secret, t, body = "whsec_example", 1_492_774_577, b'{"hello": "world"}'
    v1 = rfc2104_hmac_sha256(secret.encode(), b"1492774577." + body)
    header = f"t={t},v1={v1},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
    assert verify(secret, header, body, now_s=t + 10)
    assert not verify(secret, header, body + b" ", now_s=t + 10)
    assert not verify("whsec_other", header, body, now_s=t + 10)
    assert not verify(secret, header.replace(f"t={t}", f"t={t + 1}"), body, now_s=t + 10)
    # a rotated secret: one of several v1 matches
    both = f"t={t},v1={'0' * 64},v1={v1}"
    assert verify(secret, both, body, now_s=t)


def test_an_old_or_future_timestamp_is_refused() -> None:
    header = sign("k", 1_000_000, b"x")
    assert verify("k", header, b"x", now_s=1_000_000 + TOLERANCE_S)
    assert not verify("k", header, b"x", now_s=1_000_000 + TOLERANCE_S + 1)
    assert not verify("k", header, b"x", now_s=1_000_000 - TOLERANCE_S - 1)
    assert verify("k", header, b"x", now_s=1_000_000 + 3600, tolerance_s=3600)


@pytest.mark.parametrize(
    "header", ["", "v1=ab", "t=12", "t=x,v1=ab", "t=1,t=2,v1=ab", "nonsense", "t=-1,v1=ab"]
)
def test_a_malformed_header_is_refused(header: str) -> None:
    assert parse(header) is None
    assert not verify("k", header, b"", now_s=1)


def test_retries_double_from_ten_seconds_up_to_an_hour() -> None:
    delays = [retry_delay_s(n) for n in range(1, MAX_ATTEMPTS)]
    assert delays[0] == BASE_DELAY_S
    assert all(b == min(2 * a, MAX_DELAY_S) for a, b in itertools.pairwise(delays))
    assert retry_delay_s(40) == MAX_DELAY_S
    assert not gives_up(MAX_ATTEMPTS - 1)
    assert gives_up(MAX_ATTEMPTS)
    with pytest.raises(ValueError, match="at least 1"):
        retry_delay_s(0)
