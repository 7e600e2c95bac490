"""SMS and push delivery through an HTTP provider, plus what webhooks share with it: a POST through the
bounded client and the mapping of HTTP answers to delivery results.

The provider receives ``POST <url>`` with a JSON body::

    {"to": "+15550100", "body": "...", "subject": "...", "url": "...", "user_id": "u1", "metadata": {...}}

For push the subject travels as ``"title"``, the name push services use. Headers: ``Idempotency-Key``
(the outbox key, so a provider that honours it drops a retried duplicate) and ``Authorization: Bearer``
when a token is configured. A JSON response with an ``id`` gives the provider's message id.

The provider is sent to through :mod:`engine.delivery.channels.bounded`: ``timeout`` bounds a whole send,
and at most ``MAX_ANSWER_BYTES`` of an answer are read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from engine.delivery.channels.base import DeliveryResult, DeliveryStatus, OutboundMessage
from engine.delivery.channels.bounded import bounded_client, deadline, read_answer
from engine.map import Channel

USER_AGENT = "journey-builder"
_DETAIL_LIMIT = 200


def post(client: httpx.Client, url: httpx.URL | str, **request: Any) -> DeliveryResult:
    """POST with a :func:`bounded_client` and judge the answer from its first bytes; raises httpx.HTTPError."""
    with client.stream("POST", url, **request) as response:
        body = read_answer(response)
    return result_for_response(response, body)


def status_for_http(code: int) -> DeliveryStatus:
    """2xx delivered; 408, 429 and 5xx are worth retrying; anything else will fail again the same way."""
    if 200 <= code < 300:
        return DeliveryStatus.DELIVERED
    if code in (408, 429) or code >= 500:
        return DeliveryStatus.RETRY
    return DeliveryStatus.FAILED


def result_for_response(response: httpx.Response, body: bytes) -> DeliveryResult:
    """The result of an answer, from its status, headers and (the start of) its ``body``."""
    status = status_for_http(response.status_code)
    detail = f"HTTP {response.status_code}"
    retry_after = None
    if 300 <= response.status_code < 400:
        detail += f": redirect to {response.headers.get('location', '(no location)')} not followed"
    elif status is not DeliveryStatus.DELIVERED:
        text = body.decode(response.encoding or "utf-8", errors="replace").strip()
        if text:
            detail += f": {text[:_DETAIL_LIMIT]}"
        said = response.headers.get("retry-after")
        if said:
            detail += f" (Retry-After: {said})"
            retry_after = parse_retry_after(said) if status is DeliveryStatus.RETRY else None
    return DeliveryResult(
        status,
        detail,
        _provider_id(body) if status is DeliveryStatus.DELIVERED else None,
        retry_after,
        throttled=response.status_code == 429,
    )


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date; None when unreadable."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def result_for_transport_error(error: httpx.HTTPError) -> DeliveryResult:
    if isinstance(error, httpx.TimeoutException):
        return DeliveryResult(DeliveryStatus.RETRY, f"timed out: {error!r}")
    if isinstance(error, httpx.TransportError) and not isinstance(error, httpx.UnsupportedProtocol):
        return DeliveryResult(DeliveryStatus.RETRY, f"connection failed: {error!r}")
    return DeliveryResult(DeliveryStatus.FAILED, f"request could not be made: {error!r}")


def _provider_id(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    provider_id = payload.get("id")
    # bool is an int to Python; a provider answering {"id": true} has not told us an id.
    if isinstance(provider_id, str | int) and not isinstance(provider_id, bool) and provider_id != "":
        return str(provider_id)
    return None


def require_http_url(url: str, *, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host, got {url!r}")
    return url


class HttpProviderSender:
    """Sends through the provider at ``url``; ``timeout`` bounds each send as a whole, in seconds."""

    def __init__(self, url: str, channel: Channel, token: str | None = None, timeout: float = 10) -> None:
        self._url = require_http_url(url, what=f"the {channel.value} provider URL")
        self._channel = channel
        self._timeout = timeout
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # One client, so connections to the provider are pooled and kept alive across sends.
        self._client = bounded_client(headers, timeout=timeout)

    def send(self, message: OutboundMessage) -> DeliveryResult:
        if not message.to:
            return DeliveryResult(DeliveryStatus.FAILED, f"no recipient for {self._channel.value}")
        title_key = "title" if self._channel is Channel.PUSH else "subject"
        payload = {
            "to": message.to,
            "body": message.body,
            title_key: message.subject,
            "url": message.url,
            "user_id": message.user_id,
            "metadata": dict(message.metadata),
        }
        try:
            with deadline(self._timeout):
                return post(self._client, self._url, json=payload, headers={"Idempotency-Key": message.idempotency_key})
        except httpx.HTTPError as error:
            return result_for_transport_error(error)

    def close(self) -> None:
        self._client.close()
