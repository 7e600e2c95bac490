"""Proofs (test sends): any message of a journey's draft, rendered and sent to an address the marketer types.

A proof is rendered with sample values that read as test values ("Test Alex"), or "as" an existing customer
with their traits, and is marked [TEST] on every channel. It goes into the outbox as a test message with no
customer attached, so the dispatcher sends it through the channel's real provider (even while the journey is
paused, outside quiet hours and caps) and no customer's timeline, frequency cap or KPI ever counts it. Its
unsubscribe link leads nowhere: a test must not opt anybody out.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlmodel import Session

from engine.content import ContentRenderError, render_content
from engine.journeys import draft_of, get_journey
from engine.map import SENDABLE_CHANNELS, Channel, EventTrigger, MessageContent, SendNode, TriggerNode
from engine.runtime import find_customer
from engine.store import MessageStatus, OutboxMessage, utc_now

TEST_MARK: Final = "[TEST]"
# Reserved for documentation: never a real customer, never a real unsubscribe.
TEST_UNSUBSCRIBE_URL: Final = "https://example.invalid/unsubscribe?test-send=1"
SAMPLE_USER_ID: Final = "test-user"
SAMPLE_TRAITS: Final[Mapping[str, str]] = {
    "first_name": "Test Alex",
    "last_name": "Test Sample",
    "name": "Test Alex Sample",
    "email": "test.alex@example.com",
    "phone": "+1 555 0100",
}
# How many missing values a sample rendering fills in before giving up (each costs one render).
_MAX_FILLS: Final = 40
_EMAIL: Final = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+")
_PHONE: Final = re.compile(r"\+?[0-9][0-9 ().-]{3,30}")
_MAX_RECIPIENT: Final = 500


class ProofError(ValueError):
    """A test send that cannot be made; the message says why."""


@dataclass(frozen=True)
class Proof:
    """A queued test send and how it was made: to whom, and whose values it shows."""

    message: OutboxMessage
    rendered_as: str


def sample_event(properties: list[str]) -> dict[str, Any]:
    """Stand-in values for the entry event's properties, so a preview renders without real traffic."""
    return {name: f"sample-{name}" for name in properties}


def mark_as_test(channel: Channel, content: MessageContent) -> MessageContent:
    """The content with [TEST] where the recipient sees it first: the email's subject, the title and text of a
    push or in-app message, the SMS text; a webhook's JSON object gets a "test" key, other bodies a prefix."""

    def prefixed(text: str) -> str:
        return text if text.startswith(TEST_MARK) else f"{TEST_MARK} {text}".rstrip()

    if channel is Channel.EMAIL:
        return content.model_copy(update={"subject": prefixed(content.subject)})
    if channel is Channel.WEBHOOK:
        return content.model_copy(update={"body": _marked_payload(content.body)})
    subject = prefixed(content.subject) if content.subject else ""
    return content.model_copy(update={"subject": subject, "body": prefixed(content.body)})


def _marked_payload(body: str) -> str:
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        return json.dumps({**payload, "test": f"{TEST_MARK} a test send from launch control, not a customer"})
    return f"{TEST_MARK} {body}"


def _address(channel: Channel, to: str, url: str) -> str:
    """The typed recipient, checked against what the channel can reach."""
    if channel is Channel.WEBHOOK:
        # A webhook goes to the URL the message names, unless the marketer typed a URL of their own.
        return to if to.startswith(("http://", "https://")) else url
    if len(to) > _MAX_RECIPIENT:
        raise ProofError(f"the address is too long ({len(to)} characters; at most {_MAX_RECIPIENT})")
    if channel is Channel.EMAIL and not _EMAIL.fullmatch(to):
        raise ProofError(f"{to!r} is not an email address; an email test goes to an address such as you@example.com")
    if channel is Channel.SMS and not _PHONE.fullmatch(to):
        raise ProofError(f"{to!r} is not a phone number; an SMS test goes to a number such as +1 555 0100")
    return to


def _render_sample(
    node: SendNode, *, to: str, event: dict[str, Any], journey_name: str
) -> tuple[MessageContent, dict[str, Any]]:
    """Rendered with the sample traits, filling any other trait or event property the message uses with a
    visible test value, so a proof never fails for want of a customer."""
    profile: dict[str, Any] = {**SAMPLE_TRAITS, "user_id": SAMPLE_USER_ID}
    if node.channel is Channel.EMAIL and to:
        profile["email"] = to
    if node.channel is Channel.SMS and to:
        profile["phone"] = to
    for _ in range(_MAX_FILLS):
        try:
            content = render_content(
                node.content,
                profile=profile,
                event=event,
                journey_name=journey_name,
                unsubscribe_url=TEST_UNSUBSCRIBE_URL,
            )
            return content, profile
        except ContentRenderError as error:
            root, _, name = (error.variable or "").partition(".")
            if (
                not name
                or "." in name
                or (root == "profile" and name in profile)
                or (root == "event" and name in event)
            ):
                raise ProofError(f"the message cannot be rendered with sample values: {error}") from error
            if root == "profile":
                profile[name] = f"Test {name}"
            elif root == "event":
                event[name] = f"sample-{name}"
            else:
                raise ProofError(f"the message cannot be rendered with sample values: {error}") from error
    raise ProofError("the message uses too many values to fill with samples; send it as an existing customer")


def send_proof(
    *,
    session: Session,
    journey_id: int,
    node_id: str,
    to: str = "",
    customer: str = "",
    event: Mapping[str, Any] | None = None,
) -> OutboxMessage:
    """Queue a test of the draft's message ``node_id`` for ``to`` (see :func:`make_proof`)."""
    return make_proof(
        session=session, journey_id=journey_id, node_id=node_id, to=to, customer=customer, event=event
    ).message


def make_proof(
    *,
    session: Session,
    journey_id: int,
    node_id: str,
    to: str = "",
    customer: str = "",
    event: Mapping[str, Any] | None = None,
) -> Proof:
    """Queue a test of the draft's message ``node_id``, sent to ``to`` (an email address, phone number, user id
    or webhook URL, as the channel needs).

    Rendered with sample values, or with ``customer``'s traits when given (a user id, anonymous id or email);
    with ``customer`` and no ``to``, it goes to the customer's own address, as the test profiles of QA teams
    expect.
    """
    journey = get_journey(session=session, journey_id=journey_id)
    doc = draft_of(journey)
    node = doc.node(node_id)
    if not isinstance(node, SendNode) or node.channel not in SENDABLE_CHANNELS:
        raise ProofError(f"{node_id!r} is not a message this journey can send")
    channel = node.channel
    assert channel is not None
    to, customer = to.strip(), customer.strip()
    trigger = next((n for n in doc.nodes if isinstance(n, TriggerNode)), None)
    properties = trigger.trigger.properties if trigger and isinstance(trigger.trigger, EventTrigger) else []
    values = dict(event) if event is not None else sample_event(properties)
    if customer:
        person = find_customer(session=session, query=customer)
        if person is None:
            raise ProofError(f"no customer matches {customer!r}; look them up by user id, anonymous id or email")
        profile = {**person.traits, "user_id": person.user_id}
        try:
            content = render_content(
                node.content, profile=profile, event=values, journey_name=doc.name, unsubscribe_url=TEST_UNSUBSCRIBE_URL
            )
        except ContentRenderError as error:
            raise ProofError(f"the message cannot be rendered for {customer!r}: {error}") from error
        rendered_as = f"customer {person.user_id or customer}"
        if not to:
            own = {"email": profile.get("email"), "sms": profile.get("phone")}.get(channel.value, person.user_id)
            to = "" if channel is Channel.WEBHOOK else str(own or "")
            if not to and channel is not Channel.WEBHOOK:
                raise ProofError(f"{customer!r} has no address for {channel.value}; type one to send the test to")
    else:
        if not to and channel is not Channel.WEBHOOK:
            raise ProofError(f"type the {_wanted(channel)} to send the test to")
        content, _ = _render_sample(node, to=to, event=values, journey_name=doc.name)
        rendered_as = "sample values"
    recipient = _address(channel, to, content.url)
    if not recipient:
        raise ProofError("the webhook has no URL to send the test to")
    marked = mark_as_test(channel, content)
    now = utc_now()
    message = OutboxMessage(
        idempotency_key=f"test-{uuid.uuid4().hex}",
        journey_id=journey_id,
        # No customer: a test counts in nobody's timeline, frequency cap or KPIs.
        profile_id=None,
        node_id=node_id,
        channel=channel.value,
        recipient=recipient,
        subject=marked.subject,
        body=marked.body,
        url=recipient if channel is Channel.WEBHOOK else marked.url,
        button=marked.button,
        is_test=True,
        status=MessageStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return Proof(message=message, rendered_as=rendered_as)


def _wanted(channel: Channel) -> str:
    return {Channel.EMAIL: "email address", Channel.SMS: "phone number"}.get(channel, "user id")
