"""Hostile message content (issue 16, points 1, 5 and 6): filters that fail on a customer's data, customer data
turned into HTML in an email, and Liquid without bounds.

Each failure is that customer's: ``render_content`` raises ``ContentRenderError`` saying why, and nothing else.
"""

from __future__ import annotations

import math
import threading
import tracemalloc
import uuid
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from engine.accounts import create_user, sign_in
from engine.compiler import compile_map
from engine.content import (
    MAX_ITEMS,
    MAX_OUTPUT_BYTES,
    ContentRenderError,
    looks_like_html,
    render_content,
)
from engine.delivery import Proof, dispatch_due
from engine.delivery.channels import SmtpSender
from engine.journeys import create_journey
from engine.map import Channel, MessageContent
from engine.store import OutboxMessage, Role, session_scope
from journey_builder import routes
from journey_builder.pages import launch_state
from journey_builder.pages.launch_state import LaunchState
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    publish_and_launch,
    send,
    track,
)
from tests.integration.reflex_events import Outcome, Tab, browser, run
from tests.integration.servers import SmtpTestServer

INJECTED = '<img src=x onerror="alert(1)">'
PASSWORD = "correct horse battery staple"
ESCAPED = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"


def render(body: str, *, event: Mapping[str, object] | None = None, profile: Mapping[str, object] | None = None) -> str:
    return render_content(
        MessageContent(subject="", body=body, url=""),
        profile=profile or {"first_name": "Ada"},
        event=event or {},
        journey_name="Hostile content",
        unsubscribe_url="https://example.com/v1/unsubscribe?t=1&c=email",
    ).body


# --- 1. filters that fail on the customer's data ---------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "value", "reason"),
    [
        ('{{ event.v | date: "%b %d" }}', -99_999_999_999_999, "out of range"),
        ("{{ event.v | round }}", math.nan, "NaN"),
        ("{{ event.v | round }}", math.inf, "infinity"),
        ("{{ event.v | ceil }}", math.inf, "infinity"),
        ("{{ event.v | ceil }}", math.nan, "NaN"),
        ("{{ event.v | floor }}", math.nan, "NaN"),
        ("{{ event.v | floor }}", -math.inf, "infinity"),
        ("{{ event.v | sum }}", ["a", "b"], "not a number"),
        ("{{ event.v | modulo: 0.0 }}", 7, "no result"),
        ("{{ event.v | base64_decode }}", "/w==", "not UTF-8 text"),
        ("{{ event.v | base64_url_safe_decode }}", "_w==", "not UTF-8 text"),
        ("{{ event.v | times: event.v }}", 10**900, "digits"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("{{") else "",
)
def test_a_filter_failing_on_a_hostile_value_is_a_content_render_error_with_a_reason(
    template: str, value: object, reason: str
) -> None:
    filter_name = template.split("|")[1].split(":")[0].removesuffix("}}").strip()

    with pytest.raises(ContentRenderError) as caught:
        render(template, event={"v": value})

    assert caught.value.field == "body"
    assert f"the {filter_name} filter" in str(caught.value)
    assert reason in str(caught.value)


def test_a_number_too_long_to_print_is_a_content_render_error() -> None:
    with pytest.raises(ContentRenderError, match=r"body could not be rendered.*digits"):
        render("Your points: {{ event.v }}", event={"v": 10**5000})


def test_a_range_too_large_to_count_is_a_content_render_error() -> None:
    with pytest.raises(ContentRenderError, match="body"):
        render("{% for i in (1..event.n) %}{{ i }}{% endfor %}", event={"n": 10**40})


# --- 5. HTML injection into email ---------------------------------------------------------------------------


def test_an_html_body_escapes_customer_data_and_keeps_the_designers_html() -> None:
    body = render(
        '<p>Hi {{ profile.first_name }}</p>{{ "<b>Sale</b>" }}<a href="{{ unsubscribe_url }}">stop</a>',
        profile={"first_name": INJECTED},
    )

    assert body == (
        f'<p>Hi {ESCAPED}</p><b>Sale</b><a href="https://example.com/v1/unsubscribe?t=1&amp;c=email">stop</a>'
    )


def test_a_text_body_stays_unescaped() -> None:
    assert render("Hi {{ profile.first_name }} & co", profile={"first_name": "Smith & <Sons>"}) == (
        "Hi Smith & <Sons> & co"
    )


def test_customer_data_cannot_turn_a_text_body_into_html() -> None:
    body = render("Hi {{ profile.first_name }}", profile={"first_name": INJECTED})

    assert not looks_like_html(body)
    assert INJECTED not in body


def test_the_safe_filter_cannot_let_customer_data_through() -> None:
    with pytest.raises(ContentRenderError, match="safe filter"):
        render("<p>{{ event.p | safe }}</p>", event={"p": INJECTED})


def test_the_compiler_refuses_the_safe_filter() -> None:
    doc = journey_map(
        [event_trigger("go", properties=["p"]), send("mail", body="<p>{{ event.p | safe }}</p>")],
        [("entry", "mail")],
    )

    problems = [p for p in compile_map(doc).errors if p.code == "unsafe_html"]

    assert len(problems) == 1
    assert "safe filter" in problems[0].message


def _parts(mail: EmailMessage) -> dict[str, str]:
    return {part.get_content_type(): str(part.get_content()) for part in mail.walk() if not part.is_multipart()}


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


def _mail_for(db_url: str, smtp: SmtpTestServer, body: str) -> EmailMessage:
    """A live journey sending ``body`` by email to a customer whose event and traits carry the injection, delivered
    through the dispatcher and the SMTP sender to a real SMTP server."""
    doc = journey_map(
        [event_trigger("go", properties=["p"]), send("mail", subject="Hi {{ event.p }}", body=body)],
        [("entry", "mail")],
    )
    user = f"u-{uuid.uuid4().hex[:8]}"
    with session_scope(db_url) as session:
        publish_and_launch(session, doc)
        ingest_and_react(
            session=session,
            messages=[
                identify(user, {"email": "ada@example.com", "first_name": INJECTED}),
                track(user, "go", {"p": INJECTED}),
            ],
            now=NOW,
        )
    sender = SmtpSender(smtp.host, smtp.port, "journeys@example.com", timeout=5)
    try:
        report = dispatch_due(sessions=lambda: session_scope(db_url), senders={Channel.EMAIL: sender}, now=lambda: NOW)
    finally:
        sender.close()
    with session_scope(db_url) as session:
        statuses = session.execute(select(OutboxMessage.status, OutboxMessage.reason)).all()
    assert report.delivered == 1, statuses
    (mail,) = smtp.messages
    return mail.message


def test_through_smtp_the_html_part_escapes_customer_data_and_the_text_part_does_not(
    db_url: str, smtp: SmtpTestServer
) -> None:
    mail = _mail_for(db_url, smtp, "<p>Hi {{ profile.first_name }},</p><p>You asked about {{ event.p }}.</p>")

    parts = _parts(mail)
    assert set(parts) == {"text/plain", "text/html"}
    assert "<img" not in parts["text/html"]
    assert parts["text/html"].count(ESCAPED) == 2
    assert parts["text/plain"].count(INJECTED) == 2
    assert mail["Subject"] == f"Hi {INJECTED}"


def test_through_smtp_customer_data_does_not_make_a_text_email_html(db_url: str, smtp: SmtpTestServer) -> None:
    mail = _mail_for(db_url, smtp, "Hi {{ profile.first_name }}, you asked about {{ event.p }}.")

    parts = _parts(mail)
    assert set(parts) == {"text/plain"}
    assert "<img" not in parts["text/plain"]


# --- 6. Liquid without bounds ------------------------------------------------------------------------------

DOUBLED_24_TIMES = '{% assign s = "abcdefghij" %}' + "{% assign s = s | append: s %}" * 24 + "{{ s | size }}"


@pytest.mark.parametrize(
    ("template", "event", "reason"),
    [
        ('{{ (1..30000000) | join: "," | size }}', {}, f"at most {MAX_ITEMS}"),
        ('{{ (1..event.n) | join: "," | size }}', {"n": 30_000_000}, f"at most {MAX_ITEMS}"),
        (DOUBLED_24_TIMES, {}, "characters"),
        ('{% assign a = "x" | split: "," %}' + "{% assign a = a | concat: a %}" * 20 + "{{ a | size }}", {}, "items"),
        ("{{ event.s | replace: 'a', event.s }}", {"s": "a" * 200_000}, "characters"),
        ("{{ event.l | join: event.s }}", {"l": list(range(5000)), "s": "x" * 1000}, "characters"),
        ("{{ event.s | split: '' | size }}", {"s": "x" * 100_000}, f"at most {MAX_ITEMS}"),
        ("{% for i in (1..10000) %}{{ event.s }}{% endfor %}", {"s": "x" * 1000}, "output"),
        ("{% for i in (1..200) %}{% for j in (1..200) %}.{% endfor %}{% endfor %}", {}, "loop iteration limit"),
        ("{{ event.l | uniq | size }}", {"l": list(range(MAX_ITEMS))}, "uniq"),
    ],
    ids=[
        "range-literal",
        "range-from-data",
        "doubling",
        "list-doubling",
        "replace",
        "join",
        "split",
        "output",
        "nested",
        "uniq",
    ],
)
def test_a_template_over_the_bounds_is_refused_without_building_what_it_asks_for(
    template: str, event: dict[str, Any], reason: str
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ContentRenderError) as caught:
            render(template, event=event)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert caught.value.field == "body"
    assert reason in str(caught.value)
    # The hostile data itself is a few hundred kilobytes; what the template asked for is tens of megabytes and more.
    assert peak < 8 * MAX_OUTPUT_BYTES


def test_the_largest_output_allowed_still_renders() -> None:
    body = render("{{ event.s }}", event={"s": "x" * MAX_OUTPUT_BYTES})

    assert len(body) == MAX_OUTPUT_BYTES
    with pytest.raises(ContentRenderError, match="output"):
        render("{{ event.s }}!", event={"s": "x" * MAX_OUTPUT_BYTES})


def test_a_render_that_runs_past_its_time_budget_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    # No timing is measured: the budget is made zero, so the first filter call is already past it.
    monkeypatch.setattr("engine.content.bounds.RENDER_SECONDS", 0.0)

    with pytest.raises(ContentRenderError, match="time"):
        render("{{ event.s | upcase }}", event={"s": "x"})


def test_the_compiler_refuses_a_range_literal_no_message_may_use() -> None:
    doc = journey_map(
        [event_trigger("go"), send("mail", body='{{ (1..30000000) | join: "," }} and {{ (1..5) | join: "," }}')],
        [("entry", "mail")],
    )

    problems = [p for p in compile_map(doc).errors if p.code == "template_over_limit"]

    assert len(problems) == 1
    assert "30000000 items" in problems[0].message
    assert f"at most {MAX_ITEMS}" in problems[0].message


# --- the marketer's test send runs off the event loop ------------------------------------------------------


def test_the_proof_handler_renders_on_a_worker_thread_and_reports_a_bounded_failure(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    body = '{{ (1..event.n) | join: "," | size }}'
    doc = journey_map([event_trigger("go", properties=["n"]), send("mail", body=body)], [("entry", "mail")])
    with session_scope() as session:
        create_user(session=session, email="m@example.com", password=PASSWORD, role=Role.MARKETER, actor="t")
        secret = sign_in(session=session, email="m@example.com", password=PASSWORD)[1]
        journey_id = create_journey(session=session, doc=doc, created_by="t").id
        ingest_and_react(session=session, messages=[identify("qa", {"email": "qa@example.com"})], now=NOW)
    assert journey_id is not None

    # The test profile's event: first the marketer's 30-million range, then a harmless one.
    sizes = [30_000_000, 3]
    threads: list[int] = []
    real = launch_state.make_proof

    def recording(**kwargs: Any) -> Proof:
        threads.append(threading.get_ident())
        return real(**kwargs, event={"n": sizes.pop(0)})

    monkeypatch.setattr(launch_state, "make_proof", recording)

    async def go() -> tuple[list[Outcome], dict[str, Any], int]:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(routes.journey_launch(journey_id), secret)
            await tab.send(LaunchState.event_handlers["set_proof_node"], value="mail")
            await tab.send(LaunchState.event_handlers["set_proof_to"], value="qa@example.com")
            outcomes = [await tab.send(LaunchState.event_handlers["send_proof"]) for _ in sizes[:]]
            return outcomes, await tab.state(LaunchState), threading.get_ident()

    (refused, queued), state, loop_thread = run(go())

    assert [refused.error, queued.error] == [None, None]
    assert len(threads) == 2
    assert loop_thread not in threads
    ((level, text),) = refused.toasts
    assert level == "error"
    assert f"at most {MAX_ITEMS}" in text
    assert queued.toasts == [("success", "Test queued for qa@example.com.")]
    assert state["proof_preview"].endswith("5")
    with session_scope() as session:
        assert [m.body for m in session.execute(select(OutboxMessage)).scalars()] == ["5"]
