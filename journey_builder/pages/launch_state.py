"""Launch control's state: one journey's status, versions, who is waiting where and recent messages,
the lifecycle actions (publish, launch, pause, resume, stop) and proofs of its messages."""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from engine.accounts import Action, allowed
from engine.delivery import SAMPLE_TRAITS, InDoubtError, ProofError, in_doubt_messages, make_proof, mark_sent, resend
from engine.journeys import (
    ArchiveError,
    CompileFailedError,
    JourneyNotFoundError,
    draft_of,
    get_journey,
    publish_blocker,
    publish_journey,
)
from engine.map import Channel, PausePolicy, SendNode
from engine.runtime import lifecycle, runs
from engine.store import Journey, session_scope
from journey_builder.auth import acting, requires, viewing
from journey_builder.routes import journey_editor, journey_id_in, journey_map_kpis


@dataclasses.dataclass(frozen=True)
class VersionRow:
    number: int
    published_at: str
    published_by: str


@dataclasses.dataclass(frozen=True)
class NodeRow:
    node_id: str
    title: str
    waiting: int


@dataclasses.dataclass(frozen=True)
class MessageRow:
    id: int
    node: str
    channel: str
    recipient: str
    status: str
    reason: str
    attempts: int
    at: str
    is_test: bool


# What the "Send to" box asks for, by the channel of the message chosen.
_ADDRESS_HINTS = {
    Channel.EMAIL.value: "Email address",
    Channel.SMS.value: "Phone number",
    Channel.PUSH.value: "User id or device",
    Channel.IN_APP.value: "User id",
    Channel.WEBHOOK.value: "Webhook URL (empty: the message's own)",
}
SAMPLE = "sample"
AS_CUSTOMER = "customer"


@dataclasses.dataclass(frozen=True)
class FailureRow:
    at: str
    customer: str
    stage: str
    reason: str


@dataclasses.dataclass(frozen=True)
class InDoubtRow:
    id: int
    node: str
    channel: str
    customer: str
    recipient: str
    reason: str
    # Held for a person; otherwise it waits (a paused journey's SMS or push) to be asked again with its key.
    held: bool = True
    resendable: bool = True


@dataclasses.dataclass(frozen=True)
class MessageChoice:
    node_id: str
    label: str
    channel: str


class LaunchState(rx.State):
    journey_id: int = 0
    name: str = ""
    status: str = ""
    not_found: bool = False
    versions: list[VersionRow] = rx.field(default_factory=list)
    nodes: list[NodeRow] = rx.field(default_factory=list)
    messages: list[MessageRow] = rx.field(default_factory=list)
    in_flight: int = 0
    ended: int = 0
    failed: int = 0
    failures: list[FailureRow] = rx.field(default_factory=list)
    # Messages whose worker died mid-send on a channel that cannot be asked again safely: a person decides.
    in_doubt_count: int = 0
    in_doubt: list[InDoubtRow] = rx.field(default_factory=list)
    message_choices: list[MessageChoice] = rx.field(default_factory=list)
    proof_node: str = ""
    # Where the test goes (the signed-in user's email to start with), and whose values it shows.
    proof_to: str = ""
    proof_values: str = SAMPLE
    proof_customer: str = ""
    proof_preview: str = ""
    proof_note: str = ""
    resume_policy: str = PausePolicy.SKIP_OVERDUE_SENDS.value
    problems: list[str] = rx.field(default_factory=list)
    # Why each control is disabled now ("" when it is not), and what publishing does to customers inside.
    publish_blocked: str = ""
    launch_blocked: str = ""
    pause_blocked: str = ""
    resume_blocked: str = ""
    stop_blocked: str = ""
    drain_blocked: str = ""
    publish_warning: str = ""
    next_version: int = 1

    @rx.var
    def map_url(self) -> str:
        return journey_editor(self.journey_id)

    @rx.var
    def kpi_url(self) -> str:
        return journey_map_kpis(self.journey_id)

    @rx.var
    def proof_to_hint(self) -> str:
        channel = next((c.channel for c in self.message_choices if c.node_id == self.proof_node), "")
        return _ADDRESS_HINTS.get(channel, "Address")

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def load(self) -> None:
        journey_id = journey_id_in(self.router.url.path)
        if journey_id != self.journey_id:
            self.proof_node, self.proof_preview, self.proof_note, self.problems = "", "", "", []
        self.journey_id = journey_id
        if not self.proof_to:
            self.proof_to = acting().email
        self._refresh()

    def _refresh(self) -> None:
        try:
            with session_scope() as session:
                journey = get_journey(session=session, journey_id=self.journey_id)
                doc = draft_of(journey)
                overview = runs.run_overview(session=session, journey_id=self.journey_id)
                doubt_count, doubtful = in_doubt_messages(session=session, journey_id=self.journey_id)
                history = runs.versions(session=session, journey_id=self.journey_id)
                publish_blocked = publish_blocker(session=session, journey_id=self.journey_id)
        except JourneyNotFoundError:
            self.not_found = True
            return
        self.not_found = False
        self.name, self.status = journey.name, journey.status.value
        self._controls(journey, latest=history[0].number if history else 0, publish_blocked=publish_blocked)
        titles = {n.id: n.title or n.id for n in doc.nodes}
        self.versions = [
            VersionRow(
                number=v.number, published_at=f"{v.published_at:%Y-%m-%d %H:%M} UTC", published_by=v.published_by or "—"
            )
            for v in history
        ]
        self.nodes = sorted(
            (
                NodeRow(node_id=n.node_id, title=titles.get(n.node_id, n.node_id), waiting=n.waiting)
                for n in overview.waiting_by_node
            ),
            key=lambda row: -row.waiting,
        )
        self.in_flight, self.ended, self.failed = overview.in_flight, overview.ended, overview.failed
        # Recent messages and failed runs name their customers: customer data, as in GET /api/journeys/{id}/runs.
        customers_shown = allowed(acting().role, Action.VIEW_CUSTOMERS)
        shown = overview.recent_messages if customers_shown else []
        stages = {stage.id: stage.name for stage in doc.stages}
        self.failures = [
            FailureRow(
                at=f"{f.failed_at:%Y-%m-%d %H:%M:%S}" if f.failed_at else "—",
                customer=f.user_id or f"anonymous #{f.profile_id}",
                stage=stages.get(f.stage_id or "", f.stage_id or "—"),
                reason=f.reason,
            )
            for f in (overview.recent_failures if customers_shown else [])
        ]
        self.in_doubt_count = doubt_count
        self.in_doubt = [
            InDoubtRow(
                id=m.id,
                node=titles.get(m.node_id, m.node_id),
                channel=m.channel,
                customer=m.user_id or "anonymous",
                recipient=m.recipient,
                reason=m.reason,
                held=m.held,
                resendable=m.resendable,
            )
            for m in (doubtful if customers_shown else [])
        ]
        self.messages = [
            MessageRow(
                id=m.id,
                node=titles.get(m.node_id, m.node_id),
                channel=m.channel,
                recipient=m.recipient,
                status=m.shown_status,
                reason=m.reason,
                attempts=m.attempts,
                at=f"{m.created_at:%Y-%m-%d %H:%M:%S}",
                is_test=m.is_test,
            )
            for m in shown
        ]
        self.message_choices = [
            MessageChoice(
                node_id=n.id,
                label=f"{n.title or n.id} ({n.channel.value if n.channel else '?'})",
                channel=n.channel.value if n.channel else "",
            )
            for n in doc.nodes
            if isinstance(n, SendNode)
        ]
        if self.proof_node not in {c.node_id for c in self.message_choices}:
            self.proof_node = self.message_choices[0].node_id if self.message_choices else ""

    def _controls(self, journey: Journey, *, latest: int, publish_blocked: str | None) -> None:
        published = latest > 0
        self.publish_blocked = _after_colon(publish_blocked or "")
        self.next_version = latest + 1
        self.publish_warning = lifecycle.publish_consequence(journey, latest=latest) or ""
        blocked = {
            action: _after_colon(lifecycle.action_blocker(journey, action, published=published) or "")
            for action in ("launch", "pause", "resume", "stop", "drain")
        }
        self.launch_blocked, self.pause_blocked, self.resume_blocked = (
            blocked["launch"],
            blocked["pause"],
            blocked["resume"],
        )
        self.stop_blocked, self.drain_blocked = blocked["stop"], blocked["drain"]

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def refresh(self) -> None:
        self._refresh()

    @rx.event
    @requires(Action.TEST_SEND)
    def set_proof_node(self, value: str) -> None:
        self.proof_node = value

    @rx.event
    @requires(Action.TEST_SEND)
    def set_proof_to(self, value: str) -> None:
        self.proof_to = value

    @rx.event
    @requires(Action.TEST_SEND)
    def set_proof_values(self, value: str) -> None:
        self.proof_values = AS_CUSTOMER if value == AS_CUSTOMER else SAMPLE

    @rx.event
    @requires(Action.TEST_SEND)
    def set_proof_customer(self, value: str) -> None:
        self.proof_customer = value

    @rx.event
    @requires(Action.RESUME)
    def set_resume_policy(self, value: str) -> None:
        self.resume_policy = value

    @rx.event
    @requires(Action.PUBLISH)
    def publish(self) -> rx.event.EventSpec:
        self.problems = []
        try:
            with session_scope() as session:
                version = publish_journey(session=session, journey_id=self.journey_id, published_by=acting().email)
                number = version.number
        except CompileFailedError as error:
            self.problems = [p.message for p in error.problems if p.severity == "error"]
            return rx.toast.error(str(error))
        except ArchiveError as error:
            self._refresh()
            return rx.toast.error(str(error))
        self._refresh()
        return rx.toast.success(f"Published version {number}.")

    def _act(self, action: str) -> rx.event.EventSpec:
        actor = acting().email
        try:
            with session_scope() as session:
                if action == "launch":
                    lifecycle.launch_journey(session=session, journey_id=self.journey_id, actor=actor)
                elif action == "pause":
                    lifecycle.pause_journey(session=session, journey_id=self.journey_id, actor=actor)
                elif action == "resume":
                    lifecycle.resume_journey(
                        session=session, journey_id=self.journey_id, actor=actor, policy=PausePolicy(self.resume_policy)
                    )
                elif action == "stop":
                    lifecycle.stop_journey(session=session, journey_id=self.journey_id, actor=actor)
                else:
                    lifecycle.stop_journey(
                        session=session, journey_id=self.journey_id, actor=actor, mode=lifecycle.StopMode.DRAIN
                    )
        except lifecycle.LifecycleError as error:
            return rx.toast.error(str(error))
        self._refresh()
        return rx.toast.success(f"Journey is now {self.status}.")

    @rx.event
    @requires(Action.LAUNCH)
    def launch(self) -> rx.event.EventSpec:
        return self._act("launch")

    @rx.event
    @requires(Action.PAUSE)
    def pause(self) -> rx.event.EventSpec:
        return self._act("pause")

    @rx.event
    @requires(Action.RESUME)
    def resume(self) -> rx.event.EventSpec:
        return self._act("resume")

    @rx.event
    @requires(Action.STOP)
    def stop_now(self) -> rx.event.EventSpec:
        return self._act("stop")

    @rx.event
    @requires(Action.STOP)
    def stop_drain(self) -> rx.event.EventSpec:
        return self._act("drain")

    def _settle_in_doubt(self, message_id: int, resending: bool) -> rx.event.EventSpec:
        actor = acting().email
        try:
            with session_scope() as session:
                (resend if resending else mark_sent)(session=session, message_id=message_id, actor=actor)
        except InDoubtError as error:
            self._refresh()
            return rx.toast.error(str(error))
        self._refresh()
        return rx.toast.success("Message queued to be sent again." if resending else "Message marked as sent.")

    @rx.event
    @requires(Action.RESUME)
    def resend_in_doubt(self, message_id: int) -> rx.event.EventSpec:
        return self._settle_in_doubt(message_id, resending=True)

    @rx.event
    @requires(Action.RESUME)
    def mark_in_doubt_sent(self, message_id: int) -> rx.event.EventSpec:
        return self._settle_in_doubt(message_id, resending=False)

    @rx.event
    @requires(Action.TEST_SEND)
    async def send_proof(self) -> rx.event.EventSpec:
        # The designer's template renders on a worker thread: within its bounds it may still take a moment, and
        # the event loop goes on serving everyone else meanwhile.
        customer = self.proof_customer if self.proof_values == AS_CUSTOMER else ""
        if self.proof_values == AS_CUSTOMER and not customer.strip():
            return rx.toast.error("Type the user id or email of the customer whose values the test shows.")
        try:
            preview, recipient, rendered_as = await asyncio.to_thread(
                _queue_proof, self.journey_id, self.proof_node, self.proof_to, customer
            )
        except ProofError as error:
            return rx.toast.error(str(error))
        self.proof_preview = preview
        self.proof_note = f"Test to {recipient}, rendered with {rendered_as}"
        self._refresh()
        return rx.toast.success(f"Test queued for {recipient}.")


def _after_colon(sentence: str) -> str:
    """The sentence as it reads after "Launch: " beside the controls."""
    return sentence[:1].lower() + sentence[1:]


def _queue_proof(journey_id: int, node_id: str, to: str, customer: str) -> tuple[str, str, str]:
    """(the proof as it reads, who it goes to, whose values it shows)."""
    with session_scope() as session:
        proof = make_proof(session=session, journey_id=journey_id, node_id=node_id, to=to, customer=customer)
        message = proof.message
        text = "\n".join(part for part in (message.subject, message.body, message.url) if part)
        return text, message.recipient, proof.rendered_as


SAMPLE_NAME = SAMPLE_TRAITS["first_name"]
