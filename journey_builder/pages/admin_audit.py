"""Admin: the audit log, filtered by journey, actor, action and dates, a page at a time."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import reflex as rx

from engine.accounts import Action
from engine.journeys import list_journeys
from engine.store import audit, session_scope
from journey_builder.auth import viewing
from journey_builder.components.layout import field
from journey_builder.pages.admin_shell import admin_page, when

PAGE_SIZE = 50
ANY = "any"


@dataclasses.dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclasses.dataclass(frozen=True)
class AuditRow:
    at: str
    actor: str
    action: str
    journey: str
    detail: str


def _day(text: str) -> datetime | None:
    """A date from a date input, as the UTC midnight it starts with; None when empty or not a date."""
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC) if text else None
    except ValueError:
        return None


class AuditState(rx.State):
    journey: str = ANY
    actor: str = ""
    action: str = ANY
    since: str = ""
    until: str = ""
    page: int = 0
    has_next: bool = False
    rows: list[AuditRow] = rx.field(default_factory=list)
    journeys: list[Choice] = rx.field(default_factory=list)
    actions: list[str] = rx.field(default_factory=list)
    # Bumped by "Clear" so the filter form's inputs show the reset values.
    form_key: int = 0

    def _query(self) -> None:
        until = _day(self.until)
        with session_scope() as session:
            names = {s.id: s.name for s in list_journeys(session=session)}
            self.journeys = [Choice(value=ANY, label="Any journey")] + [
                Choice(value=str(journey_id), label=name) for journey_id, name in names.items()
            ]
            self.actions = audit.actions(session=session)
            # The engine pages by limit only: read this page and everything before it, plus one to know of a next.
            found = audit.entries(
                session=session,
                journey_id=int(self.journey) if self.journey.isdigit() else None,
                actor=self.actor.strip() or None,
                action=None if self.action == ANY else self.action,
                since=_day(self.since),
                # The "to" date is a whole day: the log's bound is exclusive.
                until=until + timedelta(days=1) if until else None,
                limit=(self.page + 1) * PAGE_SIZE + 1,
            )
        shown = found[self.page * PAGE_SIZE : (self.page + 1) * PAGE_SIZE]
        self.has_next = len(found) > (self.page + 1) * PAGE_SIZE
        self.rows = [
            AuditRow(
                at=when(entry.at),
                actor=entry.actor,
                action=entry.action,
                journey=names.get(entry.journey_id, f"#{entry.journey_id}") if entry.journey_id is not None else "",
                detail=", ".join(f"{key}: {value}" for key, value in sorted(entry.detail.items())),
            )
            for entry in shown
        ]

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def load(self) -> None:
        self.page = 0
        self._query()

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def apply(self, form: dict[str, str]) -> None:
        self.journey = form.get("journey", ANY) or ANY
        self.actor = form.get("actor", "")
        self.action = form.get("action", ANY) or ANY
        self.since, self.until = form.get("since", ""), form.get("until", "")
        self.page = 0
        self._query()

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def clear(self) -> None:
        self.journey, self.actor, self.action, self.since, self.until, self.page = ANY, "", ANY, "", "", 0
        self.form_key += 1
        self._query()

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def next_page(self) -> None:
        if self.has_next:
            self.page += 1
            self._query()

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def previous_page(self) -> None:
        if self.page > 0:
            self.page -= 1
            self._query()


def _filters() -> rx.Component:
    return rx.form(
        rx.hstack(
            field(
                "Journey",
                rx.select.root(
                    rx.select.trigger(width="14em"),
                    rx.select.content(
                        rx.foreach(AuditState.journeys, lambda c: rx.select.item(c.label, value=c.value))
                    ),
                    name="journey",
                    default_value=AuditState.journey,
                ),
                width="auto",
            ),
            field(
                "Actor",
                rx.input(name="actor", default_value=AuditState.actor, placeholder="email or token:name"),
                width="auto",
            ),
            field(
                "Action",
                rx.select.root(
                    rx.select.trigger(width="11em"),
                    rx.select.content(
                        rx.select.item("Any action", value=ANY),
                        rx.foreach(AuditState.actions, lambda a: rx.select.item(a, value=a)),
                    ),
                    name="action",
                    default_value=AuditState.action,
                ),
                width="auto",
            ),
            field("From (UTC)", rx.input(name="since", type="date", default_value=AuditState.since), width="auto"),
            field("To (UTC)", rx.input(name="until", type="date", default_value=AuditState.until), width="auto"),
            rx.button("Filter", type="submit"),
            rx.button("Clear", type="button", variant="soft", color_scheme="gray", on_click=AuditState.clear),
            align="end",
            spacing="3",
            wrap="wrap",
        ),
        on_submit=AuditState.apply,
        key=AuditState.form_key.to_string(),
        width="100%",
    )


def _row(row: rx.Var[AuditRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.at, size="2", white_space="nowrap")),
        rx.table.cell(row.actor),
        rx.table.cell(rx.badge(row.action, variant="soft")),
        rx.table.cell(row.journey),
        rx.table.cell(rx.text(row.detail, size="1", color_scheme="gray")),
        data_testid="audit-row",
    )


def audit_page() -> rx.Component:
    return admin_page(
        "Audit log",
        "Who did what, and when: launches and pauses, accounts, keys and tokens.",
        "Audit log",
        rx.card(_filters(), size="3", width="100%"),
        rx.card(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[rx.table.column_header_cell(h) for h in ("When", "Who", "Action", "Journey", "Details")]
                    )
                ),
                rx.table.body(rx.foreach(AuditState.rows, _row)),
                variant="ghost",
                size="2",
                width="100%",
            ),
            rx.cond(
                AuditState.rows.length() == 0,
                rx.text("Nothing in the log matches.", size="2", color_scheme="gray", margin_top="12px"),
            ),
            rx.hstack(
                rx.button(
                    "Newer",
                    on_click=AuditState.previous_page,
                    disabled=AuditState.page == 0,
                    variant="soft",
                    size="1",
                ),
                rx.text("Page ", (AuditState.page + 1).to_string(), size="2", color_scheme="gray"),
                rx.button(
                    "Older", on_click=AuditState.next_page, disabled=~AuditState.has_next, variant="soft", size="1"
                ),
                align="center",
                justify="end",
                spacing="3",
                margin_top="12px",
            ),
            size="3",
            width="100%",
        ),
    )
