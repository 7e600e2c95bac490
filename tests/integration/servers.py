"""Real servers on 127.0.0.1 for integration tests: an SMTP server and an HTTP server that record what
they receive and can be told to fail, to answer a byte at a time, or to answer with a huge body.

Both are context managers that bind port 0 and expose the port the system assigned::

    with SmtpTestServer() as smtp, HttpTestServer() as http:
        sender = SmtpSender(smtp.host, smtp.port, "journeys@example.com")
        http.fail_next(2, status=503)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    login: str | None


class SmtpTestServer:
    """An aiosmtpd server in its own thread and event loop.

    ``fail_next(n, code)`` makes the next ``n`` recipients be refused with that reply code (4xx transient,
    5xx permanent). ``credentials`` turns on AUTH (without TLS, which is fine on 127.0.0.1) and refuses
    any other user name or password. ``drop_connections()`` closes every open client connection, as a
    server does on an idle timeout or a restart. ``delay`` seconds pass before each message is accepted (a slow
    server).
    """

    def __init__(self, *, credentials: tuple[str, str] | None = None, delay: float = 0.0) -> None:
        self.host = LOCALHOST
        self.delay = delay
        self.port = 0
        self.connections = 0
        self._credentials = credentials
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._failures: deque[tuple[int, str]] = deque()
        self._protocols: list[SMTP] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="smtp-test-server", daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def fail_next(self, count: int, code: int = 451, text: str = "4.3.0 try again later") -> None:
        with self._lock:
            self._failures.extend([(code, text)] * count)

    def drop_connections(self) -> None:
        async def close_all() -> None:
            for protocol in self._protocols:
                if protocol.transport is not None:
                    protocol.transport.close()

        # Waits until the closes are issued, so the test's next send meets a connection already closing.
        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout=5)

    def __enter__(self) -> Self:
        listener = socket.create_server((self.host, 0))
        self.port = listener.getsockname()[1]
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            self._loop.create_server(self._new_protocol, sock=listener), self._loop
        ).result(timeout=5)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _new_protocol(self) -> SMTP:
        protocol = SMTP(
            _SmtpHandler(self),
            hostname="journey-test-smtp",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=self._authenticate if self._credentials else None,
            loop=self._loop,
        )
        self._protocols.append(protocol)
        self.connections += 1
        return protocol

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self._credentials is not None
        user, password = self._credentials
        ok = isinstance(auth_data, LoginPassword) and auth_data == (user.encode(), password.encode())
        # handled=False lets aiosmtpd answer 535 itself when the credentials are wrong.
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    def _next_failure(self) -> tuple[int, str] | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def _record(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for protocol in self._protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self._server.wait_closed()


class _SmtpHandler:
    def __init__(self, server: SmtpTestServer) -> None:
        self._server = server

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd looks for
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        failure = self._server._next_failure()
        if failure:
            return f"{failure[0]} {failure[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self._server.delay:
            await asyncio.sleep(self._server.delay)
        # Stored as a mailbox would, with local line endings, so tests compare plain "\n" text.
        raw = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        message = BytesParser(policy=default_policy).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        login = session.auth_data if session.authenticated else None
        self._server._record(ReceivedMail(str(envelope.mail_from), tuple(envelope.rcpt_tos), message, login))
        return "250 2.0.0 accepted"


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0
    trickle_from_body: bool = False
    body_size: int = 0


class HttpTestServer:
    """A threaded HTTP/1.1 server that answers every request with 200 and ``{"id": "msg-<n>"}``.

    ``respond_next`` queues other answers (a status, a body, headers, a delay before answering);
    ``fail_next(n, status)`` is the common case of failing the next ``n`` requests. Two answers an
    attacker's endpoint gives: ``trickle`` writes the answer one byte at a time, that many seconds apart
    (from its status line, or from its body with ``trickle_from_body``), so no single read waits long;
    ``body_size`` answers with that many bytes of body, written as fast as the client reads them, and
    ``body_bytes_sent()`` says how many it took before hanging up.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._queued: deque[_Response] = deque()
        self._stopping = threading.Event()
        self._body_bytes_sent = 0
        self._answering = 0
        self._idle = threading.Condition(self._lock)
        self._httpd = _TrackingHTTPServer((LOCALHOST, 0), _make_handler(self))
        self.host = LOCALHOST
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        # A short poll interval keeps shutdown, and so each test's teardown, quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="http-test-server", daemon=True
        )

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def respond_next(
        self,
        count: int = 1,
        *,
        status: int = 200,
        body: bytes | str | Mapping[str, Any] = b"",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        trickle: float = 0.0,
        trickle_from_body: bool = False,
        body_size: int = 0,
    ) -> None:
        if isinstance(body, Mapping):
            payload, content_type = json.dumps(body).encode(), "application/json"
        else:
            payload = body.encode() if isinstance(body, str) else body
            content_type = "text/plain; charset=utf-8"
        response = _Response(
            status,
            payload,
            {"Content-Type": content_type, **(headers or {})},
            delay,
            trickle,
            trickle_from_body,
            body_size,
        )
        with self._lock:
            self._queued.extend([response] * count)

    def body_bytes_sent(self, timeout: float = 10) -> int:
        """The body bytes written for ``body_size`` answers, once every answer under way is over (the
        client read them all, or hung up)."""
        with self._idle:
            self._idle.wait_for(lambda: self._answering == 0, timeout=timeout)
            return self._body_bytes_sent

    def fail_next(self, count: int, status: int = 503) -> None:
        self.respond_next(count, status=status, body=f"failing on purpose with {status}")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _answer(self, request: ReceivedRequest) -> _Response:
        with self._lock:
            self._requests.append(request)
            self._answering += 1
            if self._queued:
                return self._queued.popleft()
            number = len(self._requests)
        return _Response(200, json.dumps({"id": f"msg-{number}"}).encode(), {"Content-Type": "application/json"})

    def _answered(self, body_bytes: int) -> None:
        with self._idle:
            self._answering -= 1
            self._body_bytes_sent += body_bytes
            self._idle.notify_all()


class _TrackingHTTPServer(ThreadingHTTPServer):
    """Closes its kept-alive connections on shutdown, so no handler thread outlives the test."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            for connection in self._open:
                # A connection the client already closed cannot be shut down again; that is fine.
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


def _make_handler(server: HttpTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._handle()

        def do_GET(self) -> None:
            self._handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = server._answer(ReceivedRequest(self.command, self.path, headers, body))
            sent = 0
            try:
                if response.delay and server._stopping.wait(response.delay):
                    return
                if response.trickle:
                    self._trickle(response)
                    return
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(response.body_size or len(response.body)))
                self.end_headers()
                if not response.body_size:
                    self.wfile.write(response.body)
                    return
                chunk = b"x" * 65536
                while sent < response.body_size:
                    part = chunk[: response.body_size - sent]
                    self.wfile.write(part)
                    sent += len(part)
            except (BrokenPipeError, ConnectionResetError):
                # The client hung up mid-answer, which is what these answers are for.
                self.close_connection = True
            finally:
                server._answered(sent)

        def _trickle(self, response: _Response) -> None:
            lines = [f"HTTP/1.1 {response.status} {self.responses[response.status][0]}"]
            lines += [f"{name}: {value}" for name, value in response.headers.items()]
            lines.append(f"Content-Length: {len(response.body)}")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode()
            if response.trickle_from_body:
                self.wfile.write(head)
            for byte in response.body if response.trickle_from_body else head + response.body:
                if server._stopping.wait(response.trickle):
                    self.close_connection = True
                    return
                self.wfile.write(bytes([byte]))

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are recorded in ``HttpTestServer.requests``; the test output stays clean."""

    return Handler
