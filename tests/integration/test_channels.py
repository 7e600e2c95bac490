"""Delivery channels against real SMTP and HTTP servers on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.delivery.channels import (
    ChannelSettings,
    ChannelSettingsError,
    DeliveryStatus,
    HttpProviderSender,
    OutboundMessage,
    SandboxSender,
    SmtpSender,
    WebhookSender,
    build_senders,
)
from engine.map import SENDABLE_CHANNELS, Channel

from .servers import HttpTestServer, SmtpTestServer

FROM = "journeys@example.com"


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def http_server() -> Iterator[HttpTestServer]:
    with HttpTestServer() as server:
        yield server


@pytest.fixture
def smtp_sender(smtp_server: SmtpTestServer) -> Iterator[SmtpSender]:
    sender = SmtpSender(smtp_server.host, smtp_server.port, FROM, timeout=5)
    yield sender
    sender.close()


def make_message(
    *,
    key: str = "e7-send_email-1700000000000",
    channel: Channel = Channel.EMAIL,
    to: str = "ada@example.com",
    subject: str = "Your cart is waiting",
    body: str = "Hi Ada, you left something behind.",
    url: str = "",
    user_id: str | None = "user-7",
    metadata: Mapping[str, str] | None = None,
) -> OutboundMessage:
    return OutboundMessage(
        idempotency_key=key,
        channel=channel,
        to=to,
        subject=subject,
        body=body,
        url=url,
        user_id=user_id,
        metadata=metadata or {},
    )


def unused_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return int(listener.getsockname()[1])


# --- the message --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "has space", "a<b", "line\nbreak", "naïve"])
def test_message_refuses_a_key_unsafe_for_headers(key: str) -> None:
    with pytest.raises(ValueError, match="idempotency_key"):
        make_message(key=key)


def test_message_metadata_is_a_read_only_copy() -> None:
    metadata = {"unsubscribe_url": "https://example.com/u"}
    message = make_message(metadata=metadata)
    metadata["unsubscribe_url"] = "changed"

    assert message.metadata == {"unsubscribe_url": "https://example.com/u"}
    with pytest.raises(TypeError):
        message.metadata["x"] = "y"  # type: ignore[index]


# --- email --------------------------------------------------------------------------------------------------


def test_smtp_delivers_with_message_id_subject_and_recipient(
    smtp_server: SmtpTestServer, smtp_sender: SmtpSender
) -> None:
    result = smtp_sender.send(make_message(metadata={"unsubscribe_url": "https://example.com/unsubscribe/7"}))

    assert result.status is DeliveryStatus.DELIVERED
    assert result.provider_message_id == "<e7-send_email-1700000000000@journey-builder>"
    [mail] = smtp_server.messages
    assert mail.mail_from == FROM
    assert mail.rcpt_tos == ("ada@example.com",)
    assert mail.message["Message-ID"] == "<e7-send_email-1700000000000@journey-builder>"
    assert mail.message["Subject"] == "Your cart is waiting"
    assert mail.message["To"] == "ada@example.com"
    assert mail.message["From"] == FROM
    assert mail.message["List-Unsubscribe"] == "<https://example.com/unsubscribe/7>"
    assert mail.message.get_content_type() == "text/plain"
    assert mail.message.get_content() == "Hi Ada, you left something behind.\n"


def test_smtp_leaves_out_list_unsubscribe_for_a_relative_url(
    smtp_server: SmtpTestServer, smtp_sender: SmtpSender
) -> None:
    smtp_sender.send(make_message(metadata={"unsubscribe_url": "/unsubscribe/7/email"}))

    [mail] = smtp_server.messages
    assert mail.message["List-Unsubscribe"] is None


def test_smtp_sends_html_with_a_plain_text_alternative(smtp_server: SmtpTestServer, smtp_sender: SmtpSender) -> None:
    body = "<html><body><p>Hi <b>Ada</b> &amp; friends</p><p>Come back</p><style>p{}</style></body></html>"

    assert smtp_sender.send(make_message(body=body)).status is DeliveryStatus.DELIVERED

    [mail] = smtp_server.messages
    assert mail.message.get_content_type() == "multipart/alternative"
    plain = mail.message.get_body(preferencelist=("plain",))
    html = mail.message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content() == "Hi Ada & friends\n\nCome back\n"
    assert "<b>Ada</b>" in html.get_content()


def test_smtp_subject_line_breaks_become_spaces(smtp_server: SmtpTestServer, smtp_sender: SmtpSender) -> None:
    smtp_sender.send(make_message(subject="Hello\r\nBcc: victim@example.com"))

    [mail] = smtp_server.messages
    assert mail.message["Subject"] == "Hello Bcc: victim@example.com"
    assert mail.message["Bcc"] is None


def test_smtp_reuses_one_connection_across_sends(smtp_server: SmtpTestServer, smtp_sender: SmtpSender) -> None:
    results = [smtp_sender.send(make_message(key=f"k-{n}")) for n in range(3)]

    assert [r.status for r in results] == [DeliveryStatus.DELIVERED] * 3
    assert len(smtp_server.messages) == 3
    assert smtp_server.connections == 1


def test_smtp_reopens_a_connection_the_server_dropped(smtp_server: SmtpTestServer, smtp_sender: SmtpSender) -> None:
    assert smtp_sender.send(make_message(key="before")).status is DeliveryStatus.DELIVERED
    smtp_server.drop_connections()

    result = smtp_sender.send(make_message(key="after"))

    assert result.status is DeliveryStatus.DELIVERED
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [
        "<before@journey-builder>",
        "<after@journey-builder>",
    ]
    assert smtp_server.connections == 2


def test_smtp_server_down_is_retried() -> None:
    sender = SmtpSender("127.0.0.1", unused_port(), FROM, timeout=2)

    result = sender.send(make_message())
    sender.close()

    assert result.status is DeliveryStatus.RETRY
    assert "unreachable" in result.detail


@pytest.mark.parametrize(
    ("code", "status"),
    [(451, DeliveryStatus.RETRY), (452, DeliveryStatus.RETRY), (550, DeliveryStatus.FAILED)],
)
def test_smtp_refused_recipient_maps_by_reply_class(
    smtp_server: SmtpTestServer, smtp_sender: SmtpSender, code: int, status: DeliveryStatus
) -> None:
    smtp_server.fail_next(1, code=code, text="no thanks")

    refused = smtp_sender.send(make_message(key="refused"))
    accepted = smtp_sender.send(make_message(key="accepted"))

    assert refused.status is status
    assert str(code) in refused.detail
    assert "ada@example.com" in refused.detail
    assert accepted.status is DeliveryStatus.DELIVERED
    assert [m.message["Message-ID"] for m in smtp_server.messages] == ["<accepted@journey-builder>"]


@pytest.mark.parametrize("to", ["", "not-an-address", "Ada <ada@example.com>", "a@example.com, b@example.com"])
def test_smtp_refuses_a_malformed_recipient_without_connecting(smtp_server: SmtpTestServer, to: str) -> None:
    sender = SmtpSender(smtp_server.host, smtp_server.port, FROM)

    result = sender.send(make_message(to=to))

    assert result.status is DeliveryStatus.FAILED
    assert "refused" in result.detail
    assert smtp_server.connections == 0


def test_smtp_logs_in_with_the_configured_credentials() -> None:
    with SmtpTestServer(credentials=("mailer", "s3cret")) as server:
        good = SmtpSender(server.host, server.port, FROM, username="mailer", password="s3cret", timeout=5)
        bad = SmtpSender(server.host, server.port, FROM, username="mailer", password="wrong", timeout=5)

        delivered = good.send(make_message(key="good"))
        refused = bad.send(make_message(key="bad"))
        good.close()
        bad.close()

        assert delivered.status is DeliveryStatus.DELIVERED
        assert refused.status is DeliveryStatus.FAILED
        assert "535" in refused.detail
        assert [(m.login, m.message["Message-ID"]) for m in server.messages] == [("mailer", "<good@journey-builder>")]


# --- SMS and push providers ---------------------------------------------------------------------------------


def test_sms_provider_receives_json_with_idempotency_key_and_bearer_token(http_server: HttpTestServer) -> None:
    sender = HttpProviderSender(f"{http_server.url}/sms", Channel.SMS, token="tok-123", timeout=5)

    result = sender.send(
        make_message(key="e7-sms-1", channel=Channel.SMS, to="+15550100", subject="", metadata={"journey": "7"})
    )
    sender.close()

    assert result.status is DeliveryStatus.DELIVERED
    assert result.provider_message_id == "msg-1"
    [request] = http_server.requests
    assert (request.method, request.path) == ("POST", "/sms")
    assert request.headers["idempotency-key"] == "e7-sms-1"
    assert request.headers["authorization"] == "Bearer tok-123"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "to": "+15550100",
        "body": "Hi Ada, you left something behind.",
        "subject": "",
        "url": "",
        "user_id": "user-7",
        "metadata": {"journey": "7"},
    }


def test_push_provider_gets_the_subject_as_title_and_no_token_header_when_none(http_server: HttpTestServer) -> None:
    sender = HttpProviderSender(f"{http_server.url}/push", Channel.PUSH, timeout=5)

    result = sender.send(
        make_message(channel=Channel.PUSH, to="user-7", subject="Cart", url="https://shop.example.com/cart")
    )
    sender.close()

    assert result.status is DeliveryStatus.DELIVERED
    [request] = http_server.requests
    payload = request.json()
    assert payload["title"] == "Cart"
    assert "subject" not in payload
    assert payload["url"] == "https://shop.example.com/cart"
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    ("status_code", "status"),
    [
        (500, DeliveryStatus.RETRY),
        (503, DeliveryStatus.RETRY),
        (429, DeliveryStatus.RETRY),
        (408, DeliveryStatus.RETRY),
        (400, DeliveryStatus.FAILED),
        (401, DeliveryStatus.FAILED),
        (404, DeliveryStatus.FAILED),
    ],
)
def test_provider_status_codes_map_to_retry_or_failed(
    http_server: HttpTestServer, status_code: int, status: DeliveryStatus
) -> None:
    http_server.fail_next(1, status=status_code)
    sender = HttpProviderSender(f"{http_server.url}/sms", Channel.SMS, timeout=5)

    result = sender.send(make_message(channel=Channel.SMS, to="+15550100"))
    sender.close()

    assert result.status is status
    assert f"HTTP {status_code}" in result.detail
    assert f"failing on purpose with {status_code}" in result.detail
    assert result.provider_message_id is None


def test_provider_retries_until_it_recovers_reusing_the_client(http_server: HttpTestServer) -> None:
    http_server.fail_next(2, status=503)
    sender = HttpProviderSender(f"{http_server.url}/sms", Channel.SMS, timeout=5)

    statuses = [sender.send(make_message(channel=Channel.SMS, to="+15550100")).status for _ in range(3)]
    sender.close()

    assert statuses == [DeliveryStatus.RETRY, DeliveryStatus.RETRY, DeliveryStatus.DELIVERED]
    assert {r.headers["idempotency-key"] for r in http_server.requests} == {"e7-send_email-1700000000000"}


def test_provider_timeout_is_retried(http_server: HttpTestServer) -> None:
    http_server.respond_next(delay=3.0)
    sender = HttpProviderSender(f"{http_server.url}/sms", Channel.SMS, timeout=0.3)

    result = sender.send(make_message(channel=Channel.SMS, to="+15550100"))
    sender.close()

    assert result.status is DeliveryStatus.RETRY
    assert "timed out" in result.detail


def test_provider_down_is_retried() -> None:
    sender = HttpProviderSender(f"http://127.0.0.1:{unused_port()}/sms", Channel.SMS, timeout=2)

    result = sender.send(make_message(channel=Channel.SMS, to="+15550100"))
    sender.close()

    assert result.status is DeliveryStatus.RETRY
    assert "connection failed" in result.detail


def test_provider_redirect_is_not_followed(http_server: HttpTestServer) -> None:
    http_server.respond_next(status=302, headers={"Location": "http://169.254.169.254/latest"})
    sender = HttpProviderSender(f"{http_server.url}/sms", Channel.SMS, timeout=5)

    result = sender.send(make_message(channel=Channel.SMS, to="+15550100"))
    sender.close()

    assert result.status is DeliveryStatus.FAILED
    assert "redirect to http://169.254.169.254/latest not followed" in result.detail
    assert len(http_server.requests) == 1


def test_provider_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="sms provider URL must be an http"):
        HttpProviderSender("ftp://provider.example.com/", Channel.SMS)


# --- webhooks -----------------------------------------------------------------------------------------------


def webhook_message(url: str, body: str = '{"event": "cart_abandoned", "cart_id": "c-42"}') -> OutboundMessage:
    return make_message(key="e7-hook-1", channel=Channel.WEBHOOK, to=url, url=url, subject="", body=body)


def test_webhook_to_loopback_is_refused_without_an_allowlist(http_server: HttpTestServer) -> None:
    sender = WebhookSender(timeout=5)

    result = sender.send(webhook_message(f"{http_server.url}/hook"))
    sender.close()

    assert result.status is DeliveryStatus.FAILED
    assert "127.0.0.1 is a loopback address" in result.detail
    assert "JOURNEY_WEBHOOK_ALLOWLIST" in result.detail
    assert http_server.requests == []


@pytest.mark.parametrize("allowlist", [["127.0.0.1"], ["127.0.0.0/8"], ["hooks.example.com", " 127.0.0.1 "]])
def test_webhook_to_loopback_is_delivered_when_allowlisted(http_server: HttpTestServer, allowlist: list[str]) -> None:
    sender = WebhookSender(allowlist, timeout=5)

    result = sender.send(webhook_message(f"{http_server.url}/hook?x=1"))
    sender.close()

    assert result.status is DeliveryStatus.DELIVERED
    [request] = http_server.requests
    assert (request.method, request.path) == ("POST", "/hook?x=1")
    assert request.headers["idempotency-key"] == "e7-hook-1"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["host"] == f"127.0.0.1:{http_server.port}"
    assert request.json() == {"event": "cart_abandoned", "cart_id": "c-42"}


def test_webhook_sends_a_body_that_is_not_json_as_text(http_server: HttpTestServer) -> None:
    sender = WebhookSender(["127.0.0.1"], timeout=5)

    result = sender.send(webhook_message(f"{http_server.url}/hook", body="cart c-42 abandoned"))
    sender.close()

    assert result.status is DeliveryStatus.DELIVERED
    [request] = http_server.requests
    assert request.headers["content-type"] == "text/plain; charset=utf-8"
    assert request.body == b"cart c-42 abandoned"


def test_webhook_to_localhost_is_refused_unless_the_host_is_allowlisted(http_server: HttpTestServer) -> None:
    url = f"http://localhost:{http_server.port}/hook"
    refusing, allowing = WebhookSender(timeout=5), WebhookSender(["localhost"], timeout=5)

    refused = refusing.send(webhook_message(url))
    allowed = allowing.send(webhook_message(url))
    refusing.close()
    allowing.close()

    assert refused.status is DeliveryStatus.FAILED
    assert "localhost resolves to" in refused.detail
    assert "loopback" in refused.detail
    assert allowed.status is DeliveryStatus.DELIVERED
    [request] = http_server.requests
    assert request.headers["host"] == f"localhost:{http_server.port}"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://192.168.1.20:8080/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.0.1/", "non-public"),
        ("ftp://example.com/file", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("not a url", "only http:// and https://"),
        ("", "only http:// and https://"),
    ],
)
def test_webhook_refuses_before_any_connection(monkeypatch: pytest.MonkeyPatch, url: str, reason: str) -> None:
    attempts: list[object] = []
    original_connect = socket.socket.connect

    def recording_connect(self: socket.socket, address: object) -> None:
        attempts.append(address)
        original_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    sender = WebhookSender(timeout=2)

    result = sender.send(webhook_message(url))
    sender.close()

    assert result.status is DeliveryStatus.FAILED
    assert reason in result.detail
    assert attempts == []


def test_webhook_allowlisted_network_does_not_open_other_private_ranges() -> None:
    sender = WebhookSender(["127.0.0.1"], timeout=2)

    result = sender.send(webhook_message("http://10.0.0.1/"))
    sender.close()

    assert result.status is DeliveryStatus.FAILED
    assert "private" in result.detail


def test_webhook_redirect_is_reported_not_followed(http_server: HttpTestServer) -> None:
    http_server.respond_next(status=307, headers={"Location": "http://10.0.0.1/internal"})
    sender = WebhookSender(["127.0.0.1"], timeout=5)

    result = sender.send(webhook_message(f"{http_server.url}/hook"))
    sender.close()

    assert result.status is DeliveryStatus.FAILED
    assert "redirect to http://10.0.0.1/internal not followed" in result.detail
    assert len(http_server.requests) == 1


@pytest.mark.parametrize(("status_code", "status"), [(503, DeliveryStatus.RETRY), (400, DeliveryStatus.FAILED)])
def test_webhook_status_codes_map_like_providers(
    http_server: HttpTestServer, status_code: int, status: DeliveryStatus
) -> None:
    http_server.fail_next(1, status=status_code)
    sender = WebhookSender(["127.0.0.1"], timeout=5)

    result = sender.send(webhook_message(f"{http_server.url}/hook"))
    sender.close()

    assert result.status is status


def test_webhook_allowlist_rejects_an_entry_that_is_neither_host_nor_network() -> None:
    with pytest.raises(ValueError, match="'http://x/' is neither a host name nor an IP address or CIDR"):
        WebhookSender(["http://x/"])


# --- settings -----------------------------------------------------------------------------------------------


def test_settings_defaults_give_sandboxes_and_a_guarded_webhook() -> None:
    settings = ChannelSettings.from_env({})
    senders = build_senders(settings)

    assert settings == ChannelSettings()
    assert (settings.smtp_port, settings.smtp_from, settings.smtp_connections) == (25, "journeys@localhost", 4)
    assert set(senders) == set(SENDABLE_CHANNELS)
    assert isinstance(senders[Channel.WEBHOOK], WebhookSender)
    for channel in (Channel.EMAIL, Channel.SMS, Channel.PUSH, Channel.IN_APP):
        assert isinstance(senders[channel], SandboxSender)
    for sender in senders.values():
        sender.close()


def test_settings_from_env_build_real_senders_that_deliver(
    smtp_server: SmtpTestServer, http_server: HttpTestServer
) -> None:
    environ = {
        "JOURNEY_SMTP_HOST": smtp_server.host,
        "JOURNEY_SMTP_PORT": str(smtp_server.port),
        "JOURNEY_SMTP_FROM": FROM,
        "JOURNEY_SMS_URL": f"{http_server.url}/sms",
        "JOURNEY_SMS_TOKEN": "sms-token",
        "JOURNEY_PUSH_URL": f"{http_server.url}/push",
        "JOURNEY_WEBHOOK_ALLOWLIST": "127.0.0.1, hooks.internal",
        "JOURNEY_SMTP_STARTTLS": "no",
    }
    senders = build_senders(ChannelSettings.from_env(environ))

    results = {
        Channel.EMAIL: senders[Channel.EMAIL].send(make_message(key="env-email")),
        Channel.SMS: senders[Channel.SMS].send(make_message(key="env-sms", channel=Channel.SMS, to="+15550100")),
        Channel.PUSH: senders[Channel.PUSH].send(make_message(key="env-push", channel=Channel.PUSH, to="user-7")),
        Channel.WEBHOOK: senders[Channel.WEBHOOK].send(webhook_message(f"{http_server.url}/hook")),
        Channel.IN_APP: senders[Channel.IN_APP].send(make_message(key="env-app", channel=Channel.IN_APP)),
    }
    for sender in senders.values():
        sender.close()

    assert {channel: result.status for channel, result in results.items()} == dict.fromkeys(
        results, DeliveryStatus.DELIVERED
    )
    assert results[Channel.IN_APP].detail == "sandbox: stored, not sent"
    assert [m.message["Message-ID"] for m in smtp_server.messages] == ["<env-email@journey-builder>"]
    assert [(r.path, r.headers.get("authorization")) for r in http_server.requests] == [
        ("/sms", "Bearer sms-token"),
        ("/push", None),
        ("/hook", None),
    ]


def test_sandbox_setting_sends_nothing_on_any_channel(http_server: HttpTestServer) -> None:
    environ = {"JOURNEY_SANDBOX": "true", "JOURNEY_SMS_URL": f"{http_server.url}/sms", "JOURNEY_SMTP_HOST": "x"}
    senders = build_senders(ChannelSettings.from_env(environ))

    result = senders[Channel.SMS].send(make_message(channel=Channel.SMS, to="+15550100"))

    assert all(isinstance(sender, SandboxSender) for sender in senders.values())
    assert result.detail == "sandbox: stored, not sent"
    assert http_server.requests == []


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"JOURNEY_SMTP_PORT": "smtp"}, "JOURNEY_SMTP_PORT must be a port number"),
        ({"JOURNEY_SMTP_PORT": "70000"}, "JOURNEY_SMTP_PORT must be a port number"),
        ({"JOURNEY_SMTP_PORT": "0"}, "JOURNEY_SMTP_PORT must be a port number"),
        ({"JOURNEY_SMTP_STARTTLS": "maybe"}, "JOURNEY_SMTP_STARTTLS must be true or false"),
        ({"JOURNEY_SMTP_CONNECTIONS": "0"}, "JOURNEY_SMTP_CONNECTIONS must be a whole number from 1 to 32"),
        ({"JOURNEY_SANDBOX": "2"}, "JOURNEY_SANDBOX must be true or false"),
        ({"JOURNEY_SMS_URL": "sms.example.com/send"}, "JOURNEY_SMS_URL must be an http"),
        ({"JOURNEY_PUSH_URL": "ftp://push.example.com"}, "JOURNEY_PUSH_URL must be an http"),
        ({"JOURNEY_SMTP_FROM": "journeys"}, "JOURNEY_SMTP_FROM must be an email address"),
        ({"JOURNEY_WEBHOOK_ALLOWLIST": "10.0.0.0/8,bad host!"}, "JOURNEY_WEBHOOK_ALLOWLIST: .*'bad host!'"),
    ],
)
def test_settings_bad_values_raise_an_error_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ChannelSettingsError, match=message):
        ChannelSettings.from_env(environ)


def test_settings_keep_secrets_out_of_repr() -> None:
    settings = ChannelSettings.from_env(
        {"JOURNEY_SMTP_PASSWORD": "pw-secret", "JOURNEY_SMS_TOKEN": "sms-secret", "JOURNEY_PUSH_TOKEN": "push-secret"}
    )

    assert settings.smtp_password == "pw-secret"
    assert "secret" not in repr(settings)


def test_several_smtp_connections_send_emails_side_by_side() -> None:
    with SmtpTestServer(delay=0.5) as server:
        environ = {
            "JOURNEY_SMTP_HOST": server.host,
            "JOURNEY_SMTP_PORT": str(server.port),
            "JOURNEY_SMTP_CONNECTIONS": "3",
        }
        sender = build_senders(ChannelSettings.from_env(environ))[Channel.EMAIL]
        try:
            with ThreadPoolExecutor(max_workers=3) as pool:
                results = list(pool.map(sender.send, [make_message(key=f"pooled-{i}") for i in range(3)]))
        finally:
            sender.close()

        assert [r.status for r in results] == [DeliveryStatus.DELIVERED] * 3
        assert server.connections == 3
        assert sorted(m.message["Message-ID"] for m in server.messages) == [
            f"<pooled-{i}@journey-builder>" for i in range(3)
        ]
