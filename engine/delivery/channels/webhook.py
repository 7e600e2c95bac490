"""Webhooks: ``POST`` the rendered body to the URL the journey names, guarded against reaching inside.

A journey map is written by people who should not be able to make the engine call the machines next to
it (the cloud metadata service, the database, an admin port on localhost). So before any connection:

- the URL must be ``http`` or ``https`` with a host;
- the host is resolved with ``socket.getaddrinfo`` and *every* address it resolves to must be publicly
  routable: loopback, private, link-local, multicast, reserved, unspecified and other non-global
  addresses are refused, unless the host name, or an IP address / CIDR covering the address, is in the
  allowlist (``JOURNEY_WEBHOOK_ALLOWLIST``);
- the request then goes to the address that was checked (the URL's host is kept in the ``Host`` header
  and as the TLS server name), so a second DNS answer cannot swap in another address;
- redirects are not followed: a 3xx is reported, since its target was never checked.

The body is sent as JSON when it parses as JSON, otherwise as UTF-8 text, with an ``Idempotency-Key``
header carrying the outbox key. The endpoint cannot hold the worker either (see
:mod:`engine.delivery.channels.bounded`): ``timeout`` bounds the whole send, every address tried included,
and at most ``MAX_ANSWER_BYTES`` of the answer are read.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Sequence

import httpx

from engine.delivery.channels.base import DeliveryResult, DeliveryStatus, OutboundMessage
from engine.delivery.channels.bounded import bounded_client, deadline
from engine.delivery.channels.http import USER_AGENT, post, result_for_transport_error

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def _is_host_name(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


def parse_allowlist(entries: Sequence[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """Split allowlist entries into host names and networks; raises ValueError naming a bad entry."""
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry.lower().rstrip(".")
        if not _is_host_name(name):
            raise ValueError(f"webhook allowlist entry {entry!r} is neither a host name nor an IP address or CIDR")
        hosts.add(name)
    return frozenset(hosts), tuple(networks)


def _unwrap(address: IPAddress) -> IPAddress:
    # An IPv4 address written as IPv6 (::ffff:10.0.0.1, or 6to4 2002:0a00:0001::) reaches the IPv4 host,
    # and Python 3.11's ipaddress does not look through it, so the embedded address is what gets judged.
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped or address.sixtofour or address
    return address


def _why_not_public(address: IPAddress) -> str | None:
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((name for name, matched in checks if matched), None)


class WebhookSender:
    """Posts to the URL each message names; ``timeout`` bounds each send as a whole, in seconds."""

    def __init__(self, allowlist: Sequence[str] = (), timeout: float = 10) -> None:
        self._allowed_hosts, self._allowed_networks = parse_allowlist(allowlist)
        self._timeout = timeout
        # No environment proxy (the bounded client uses none): a proxy would resolve the host itself and
        # undo the address check. No kept-alive connections: requests go to a checked IP, and a pooled TLS
        # connection to that IP may have been verified for a different host name.
        self._client = bounded_client(
            {"User-Agent": USER_AGENT}, timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0)
        )

    def send(self, message: OutboundMessage) -> DeliveryResult:
        target = message.url
        try:
            url = httpx.URL(target)
        except httpx.InvalidURL as error:
            return _refused(target, f"it is not a valid URL ({error})")
        if url.scheme not in ("http", "https") or not url.host:
            return _refused(target, "only http:// and https:// URLs with a host are allowed")
        port = url.port or (443 if url.scheme == "https" else 80)
        if not 0 < port < 65536:
            return _refused(target, f"port {port} is out of range")
        host = url.raw_host.decode("ascii")

        try:
            resolved = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            transient = isinstance(error, socket.gaierror) and error.errno == socket.EAI_AGAIN
            return DeliveryResult(
                DeliveryStatus.RETRY if transient else DeliveryStatus.FAILED,
                f"could not resolve {host}: {error}",
            )
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in resolved))
        if not addresses:
            return DeliveryResult(DeliveryStatus.FAILED, f"could not resolve {host}: no addresses")
        if host.lower().rstrip(".") not in self._allowed_hosts:
            for address in addresses:
                refusal = self._refusal(host, address)
                if refusal:
                    return _refused(target, refusal)

        headers = {"Host": url.netloc.decode("ascii"), "Idempotency-Key": message.idempotency_key}
        headers["Content-Type"] = "application/json" if _is_json(message.body) else "text/plain; charset=utf-8"
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        result = DeliveryResult(DeliveryStatus.RETRY, f"could not connect to {host}")
        with deadline(self._timeout):
            # Every address was checked, so each may be tried in the resolver's order when one is unreachable.
            for address in addresses:
                try:
                    return post(
                        self._client,
                        url.copy_with(host=str(address)),
                        content=message.body.encode(),
                        headers=headers,
                        extensions=extensions,
                    )
                except httpx.ConnectError as error:
                    result = result_for_transport_error(error)
                except httpx.HTTPError as error:
                    return result_for_transport_error(error)
        return result

    def _refusal(self, host: str, address: IPAddress) -> str | None:
        judged = _unwrap(address)
        reason = _why_not_public(judged)
        if reason is None or any(judged in network for network in self._allowed_networks):
            return None
        subject = host if host == str(address) else f"{host} resolves to {address}, which"
        return f"{subject} is a {reason} address; add the host or address to JOURNEY_WEBHOOK_ALLOWLIST to allow it"

    def close(self) -> None:
        self._client.close()


def _refused(target: str, reason: str) -> DeliveryResult:
    return DeliveryResult(DeliveryStatus.FAILED, f"webhook URL {target!r} refused: {reason}")


def _is_json(body: str) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True
