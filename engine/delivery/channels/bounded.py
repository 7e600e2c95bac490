"""An HTTP client no answer can hold: the one webhooks and the SMS and push providers are sent through.

httpx's timeouts are per socket operation, so an endpoint answering a byte every few seconds holds a send
for as long as it likes, and its answer is read whole, however large. Here instead:

- ``deadline(seconds)`` bounds a whole send, from connecting to the last byte read: every socket
  operation of the client inside it is given at most what is left of that time, and one that would
  outlast it fails with a timeout naming the deadline;
- ``read_answer`` reads at most ``MAX_ANSWER_BYTES`` of an answer's body and leaves the rest on the
  socket, which is closed rather than pooled;
- the client asks for answers without compression and reads them raw, so the bytes read are the bytes
  held, never a small compressed body unpacking into a large one;
- environment proxies are not used: a proxy's own timeouts would escape the deadline.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import httpcore
import httpx

# Enough for any provider's JSON answer with its message id; of an error page only the first couple of
# hundred characters are kept anyway.
MAX_ANSWER_BYTES = 64 * 1024

T = TypeVar("T")

# (when the send must be over, by time.monotonic(); its length in seconds, for the message) of the send
# running in this thread. A context variable because the dispatcher sends from several threads at once
# through one sender, whose pooled connections any of them may use.
_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("journey_send_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every request of a :func:`bounded_client` made inside the block is over within ``seconds`` of its start."""
    token = _DEADLINE.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _within_deadline(
    timeout: float | None, expired: type[httpcore.TimeoutException], operation: Callable[[float | None], T]
) -> T:
    """Run one socket operation with its timeout cut to what is left of the send's deadline; a timeout
    it meets because the deadline came is reported as the deadline."""
    bound = _DEADLINE.get()
    if bound is None:
        return operation(timeout)
    end, seconds = bound
    message = f"no complete answer within {seconds:g} s in all"
    left = end - time.monotonic()
    if left <= 0:
        raise expired(message)
    try:
        return operation(left if timeout is None else min(timeout, left))
    except httpcore.TimeoutException as error:
        if time.monotonic() >= end:
            raise expired(message) from error
        raise


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _within_deadline(timeout, httpcore.ReadTimeout, lambda left: self._stream.read(max_bytes, left))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _within_deadline(timeout, httpcore.WriteTimeout, lambda left: self._stream.write(buffer, left))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            _within_deadline(
                timeout,
                httpcore.ConnectTimeout,
                lambda left: self._stream.start_tls(ssl_context, server_hostname, left),
            )
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, each operation given no more than what is left of the send's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            _within_deadline(
                timeout,
                httpcore.ConnectTimeout,
                lambda left: self._backend.connect_tcp(host, port, left, local_address, socket_options),
            )
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            _within_deadline(
                timeout,
                httpcore.ConnectTimeout,
                lambda left: self._backend.connect_unix_socket(path, left, socket_options),
            )
        )

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, limits: httpx.Limits) -> None:
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        # httpx cannot hand its connection pool a network backend, so the pool it built is replaced by
        # the same pool on the deadline-keeping backend. Should a later httpx stop using this attribute,
        # tests/security/test_http_answer_limits.py fails.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


def bounded_client(headers: Mapping[str, str], *, timeout: float, limits: httpx.Limits | None = None) -> httpx.Client:
    """A client that neither follows redirects nor uses proxies (httpx's default pool ``limits`` unless
    given); send with it inside :func:`deadline` and read answers with :func:`read_answer`."""
    return httpx.Client(
        headers={"Accept-Encoding": "identity", **headers},
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        transport=_DeadlineTransport(limits or httpx.Limits()),
    )


def read_answer(response: httpx.Response) -> bytes:
    """The first MAX_ANSWER_BYTES of a streamed answer's body, as sent; the rest is never read."""
    body = bytearray()
    for chunk in response.iter_raw():
        body += chunk
        if len(body) >= MAX_ANSWER_BYTES:
            break
    return bytes(body[:MAX_ANSWER_BYTES])
