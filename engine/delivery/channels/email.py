"""Email over SMTP with the standard library's smtplib.

One connection is opened on the first send and reused; when the server has dropped it (idle timeout,
restart) it is reopened once, transparently. Each message carries
``Message-ID: <{idempotency_key}@journey-builder>``, so a retried send is recognisable downstream as the
same message, and ``List-Unsubscribe`` when the dispatcher passes an absolute ``unsubscribe_url`` in the
metadata. The body goes as text/plain; a body that looks like HTML goes as HTML with a plain-text
alternative derived from it. Customer data in an HTML body was escaped when the body was rendered, and a value
can never make a plain-text body look like HTML (``engine.content``), so the HTML part carries no markup but
the designer's; the text alternative reads the escaped values back as the plain text they were.

SMTP replies map to outcomes by their class: 4xx is transient (RETRY), 5xx permanent (FAILED).
"""

from __future__ import annotations

import re
import smtplib
import threading
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from html.parser import HTMLParser

from engine.content import looks_like_html
from engine.delivery.channels.base import DeliveryResult, DeliveryStatus, OutboundMessage

_ABSOLUTE_UNSUBSCRIBE = re.compile(r"^(?:https?://|mailto:)\S+$", re.IGNORECASE)
_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender_address: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender_address
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._connection: smtplib.SMTP | None = None
        # smtplib connections are not thread-safe; the dispatcher may share one sender between workers.
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> DeliveryResult:
        problem = _address_problem(message.to)
        if problem:
            return DeliveryResult(DeliveryStatus.FAILED, f"recipient {message.to!r} refused: {problem}")
        try:
            email = self._compose(message)
        except ValueError as error:
            return DeliveryResult(DeliveryStatus.FAILED, f"message could not be composed: {error}")
        with self._lock:
            try:
                return self._deliver(email, message.to)
            # After a refused transaction smtplib has already reset the connection (or closed it on 421).
            except smtplib.SMTPRecipientsRefused as error:
                code, reply = next(iter(error.recipients.values()))
                return _result_for_reply(code, reply, f"recipient {message.to} refused")
            except smtplib.SMTPNotSupportedError as error:
                self._drop()
                return DeliveryResult(DeliveryStatus.FAILED, f"SMTP server does not support what is needed: {error}")
            except smtplib.SMTPResponseException as error:
                return _result_for_reply(error.smtp_code, error.smtp_error, "SMTP server replied")
            except (smtplib.SMTPException, OSError) as error:
                self._drop()
                return DeliveryResult(
                    DeliveryStatus.RETRY, f"SMTP server {self._host}:{self._port} unreachable: {error!r}"
                )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.quit()
                except (smtplib.SMTPException, OSError):
                    self._connection.close()
                self._connection = None

    def _deliver(self, email: EmailMessage, to: str) -> DeliveryResult:
        reused = self._connection is not None
        try:
            self._connected().send_message(email, from_addr=self._sender, to_addrs=[to])
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            self._drop()
            if not reused:
                raise
            # A kept connection the server has since closed (idle timeout, restart): open a fresh one and
            # try once more. Should the first attempt have got through after all, the same Message-ID
            # lets the receiving side recognise the duplicate.
            self._connected().send_message(email, from_addr=self._sender, to_addrs=[to])
        message_id = str(email["Message-ID"])
        return DeliveryResult(DeliveryStatus.DELIVERED, f"accepted by {self._host}:{self._port}", message_id)

    def _connected(self) -> smtplib.SMTP:
        if self._connection is None:
            connection = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            try:
                if self._starttls:
                    connection.starttls()
                if self._username:
                    connection.login(self._username, self._password or "")
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _compose(self, message: OutboundMessage) -> EmailMessage:
        email = EmailMessage(policy=SMTP_POLICY)
        email["From"] = self._sender
        email["To"] = message.to
        # A line break in a rendered subject would end the header; it reads as a space.
        email["Subject"] = " ".join(message.subject.split())
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = f"<{message.idempotency_key}@journey-builder>"
        unsubscribe_url = message.metadata.get("unsubscribe_url", "")
        # Mail clients act on List-Unsubscribe without the sender's context, so only an absolute URL helps.
        if _ABSOLUTE_UNSUBSCRIBE.fullmatch(unsubscribe_url):
            email["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        if looks_like_html(message.body):
            email.set_content(_html_to_text(message.body))
            email.add_alternative(message.body, subtype="html")
        else:
            email.set_content(message.body)
        return email


def _address_problem(to: str) -> str | None:
    try:
        address = Address(addr_spec=to)
    # The parser signals a bad address in several ways; each means the same to the dispatcher.
    except (ValueError, IndexError, HeaderParseError) as error:
        return f"not an email address ({error})"
    if not address.username or not address.domain:
        return "not an email address (needs a local part and a domain)"
    return None


def _result_for_reply(code: int, reply: bytes | str, what: str) -> DeliveryResult:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    status = DeliveryStatus.RETRY if 400 <= code < 500 else DeliveryStatus.FAILED
    return DeliveryResult(status, f"{what}: {code} {text}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
