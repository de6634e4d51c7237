"""Send one event to one subscriber: a signed webhook, or an e-mail or chat message.

A webhook is an HTTP POST of the event's JSON (``store.deliveries.body_of``) with the
headers ``X-Jointsat-Signature`` (``operations.signing``: HMAC-SHA256 of
``<t>.<body>`` with the subscriber's secret), ``X-Jointsat-Event-Id`` and
``X-Jointsat-Event-Kind``; any 2xx answer is a delivery, anything else (another
status, no answer within ``TIMEOUT_S``) is tried again later. No redirect is followed.

Other targets are apprise URLs (``mailto://``, ``slack://``, ``matrix://``,
``json://`` ... https://github.com/caronc/apprise/wiki): apprise sends the message
and says whether it went.

Private targets: unless the service's setting allows them
(``JOINTSAT_WEBHOOK_PRIVATE_TARGETS``, docs/events.md), a webhook, or an apprise URL of
apprise's generic HTTP kinds (``json://``, ``xml://``, ``form://`` and their ``s``
forms), may not go to a loopback, private, link-local, multicast or otherwise
non-global address: a subscriber must not make the service reach into its own network
(SSRF). :func:`literal_private` checks a target's host as written (an IP address,
``localhost``), without the network, when it is subscribed; :func:`resolves_private`
resolves the host just before each delivery and refuses it if any address is private.

This is the edge: it uses the network. The store and the notifier decide what to
send and when (``service.notifier``).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jointsat import __version__
from jointsat.operations.signing import (
    EVENT_ID_HEADER,
    EVENT_KIND_HEADER,
    SIGNATURE_HEADER,
    sign,
)
from jointsat.store.deliveries import Outcome
from jointsat.store.tables import SubscriptionKind

TIMEOUT_S = 10.0
USER_AGENT = f"jointsat/{__version__} (webhooks)"
PRIVATE_TARGET = "target address is private"
"""A delivery's error when its target resolves to a private address."""
APPRISE_HTTP_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
"""Apprise's generic HTTP kinds: their URL's host is the server the message is posted to."""
LOCAL_NAMES = ("localhost", "localhost.localdomain")


@dataclass(frozen=True)
class Message:
    """One event for one subscriber, ready to go."""

    kind: SubscriptionKind
    target: str  # the webhook's URL, or an apprise URL
    secret: str | None  # a webhook's signing secret
    event_id: int
    event_kind: str
    body: bytes  # the event's JSON


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def send_webhook(message: Message, timestamp_s: int, timeout_s: float = TIMEOUT_S) -> Outcome:
    """POST the event to the webhook, signed at ``timestamp_s``; return how it went."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: str(message.event_id),
        EVENT_KIND_HEADER: message.event_kind,
    }
    if message.secret:
        headers[SIGNATURE_HEADER] = sign(message.secret, timestamp_s, message.body)
    request = urllib.request.Request(message.target, data=message.body, headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout_s) as answer:
            answer.read(65536)
            status = int(answer.status)
    except urllib.error.HTTPError as error:
        status = int(error.code)
        error.close()
    except (OSError, ValueError) as error:  # refused, unreachable, timed out, bad URL
        return Outcome(False, None, f"{type(error).__name__}: {error}")
    if 200 <= status < 300:
        return Outcome(True, status)
    return Outcome(False, status, f"answered HTTP {status}")


def title_and_text(message: Message) -> tuple[str, str]:
    """Return the subject and the text of an e-mail or chat message about the event."""
    event = json.loads(message.body)
    title = f"jointsat: {event['kind']} (event {event['id']})"
    text = json.dumps(event["payload"], indent=2, sort_keys=True)
    return title, f"{event['kind']} at {event['at']}\n{text}"


def send_apprise(message: Message) -> Outcome:
    """Send the event through apprise (e-mail, chat ...); return how it went."""
    import apprise  # imported here: it loads its many plugins

    notifier = apprise.Apprise()
    if not notifier.add(message.target):
        return Outcome(False, None, "apprise does not understand this URL")
    title, text = title_and_text(message)
    try:
        sent = notifier.notify(body=text, title=title)
    except Exception as error:  # a plugin's failure is an undelivered message, tried again
        return Outcome(False, None, f"{type(error).__name__}: {error}")
    return Outcome(True) if sent else Outcome(False, None, "apprise could not send it")


def send(message: Message, timestamp_s: int) -> Outcome:
    """Send the message as its subscription says; ``timestamp_s``: the signature's time."""
    if message.kind is SubscriptionKind.WEBHOOK:
        return send_webhook(message, timestamp_s)
    return send_apprise(message)


def valid_apprise_url(url: str) -> bool:
    """Return whether apprise knows how to send to ``url`` (nothing is sent)."""
    import apprise

    return bool(apprise.Apprise().add(url))


# --- private targets (SSRF) -----------------------------------------------------------------


def target_host(kind: SubscriptionKind, target: str) -> str | None:
    """Return the host a target's requests go to: a webhook's, or that of an apprise URL of
    a generic HTTP kind (:data:`APPRISE_HTTP_SCHEMES`); None for other targets."""
    try:
        parts = urlsplit(target)
        host = parts.hostname
    except ValueError:
        return None
    if kind is not SubscriptionKind.WEBHOOK and parts.scheme.lower() not in APPRISE_HTTP_SCHEMES:
        return None
    return host or None


def private_address(address: str) -> bool:
    """Say whether an IP address is not a public one: loopback, private, link-local,
    multicast, reserved, unspecified, shared (CGNAT) ... (an IPv4-mapped IPv6 address as
    its IPv4 one)."""
    ip = ipaddress.ip_address(address.partition("%")[0])  # a zone index dropped
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_multicast or not ip.is_global


def literal_private(kind: SubscriptionKind, target: str) -> str | None:
    """Return the target's host where it is private as written (an IP address that is
    not public, or ``localhost``), else None; nothing is resolved."""
    host = target_host(kind, target)
    if host is None:
        return None
    name = host.rstrip(".").lower()
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return host
    try:
        return host if private_address(name) else None
    except ValueError:  # a name, not an address
        return None


def resolves_private(kind: SubscriptionKind, target: str) -> bool:
    """Say whether the target's host (:func:`target_host`) is, or resolves to, a private
    address (any of its addresses). A host that does not resolve is not refused here: the
    delivery fails on its own."""
    host = target_host(kind, target)
    if host is None:
        return False
    if literal_private(kind, target) is not None:
        return True
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return any(private_address(str(info[4][0])) for info in found)
