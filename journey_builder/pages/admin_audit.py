"""Admin: the audit log, filtered by journey, actor, action and dates, a page at a time."""

from __future__ import annotations

import dataclasses

import reflex as rx

from engine.accounts import Action
from engine.journeys import list_journeys
from engine.store import audit, session_scope
from journey_builder.auth import viewing
from journey_builder.components.layout import field
from journey_builder.pages.admin_shell import admin_page, when
from journey_builder.pages.sign_in import sentence

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


# The form's fields, and the engine's name of each, with the label the form shows.
FIELDS = {"journey": "Journey", "actor": "Actor", "action": "Action", "since": "From (UTC)", "until": "To (UTC)"}
_FIELD_OF_QUERY = {"journey_id": "journey", "actor": "actor", "action": "action", "since": "since", "until": "until"}
# A journey id of more digits does not fit the database's integers.
_ID_DIGITS = 18


def _refusal(error: audit.AuditQueryError) -> str:
    """The engine's refusal of a filter as the page says it, naming the field as the form labels it."""
    name = _FIELD_OF_QUERY.get(error.field or "")
    return f"{FIELDS[name]}: {error}." if name else sentence(str(error))


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

    def _show(self, filters: dict[str, str], page: int) -> rx.event.EventSpec | None:
        """Read page ``page`` of the log under ``filters`` and show it; a filter that cannot be applied is
        refused with a toast naming it, and the page keeps the filters and rows it showed."""
        refusal = self._read(filters, page)
        if refusal is not None:
            return rx.toast.error(refusal)
        self.journey, self.actor, self.action = filters["journey"], filters["actor"], filters["action"]
        self.since, self.until = filters["since"], filters["until"]
        return None

    def _read(self, filters: dict[str, str], page: int) -> str | None:
        """Load the rows and choices to show; the refusal's message when a filter cannot be applied."""
        journey = filters["journey"]
        if journey != ANY and not (journey.isascii() and journey.isdigit() and len(journey) <= _ID_DIGITS):
            return f"{FIELDS['journey']}: {journey[:40]!r} is not a journey; choose one from the list."
        try:
            since, until = audit.day_bounds(filters["since"], filters["until"])
            with session_scope() as session:
                # Archived journeys keep their trail, so they can be filtered on too.
                names = {
                    s.id: f"{s.name} (archived)" if s.archived_at is not None else s.name
                    for s in sorted(list_journeys(session=session, archived=None), key=lambda s: s.name.casefold())
                }
                found = audit.entries(
                    session=session,
                    journey_id=None if journey == ANY else int(journey),
                    actor=filters["actor"].strip() or None,
                    action=None if filters["action"] == ANY else filters["action"],
                    since=since,
                    until=until,
                    # One more than a page, to know of a next one.
                    limit=PAGE_SIZE + 1,
                    offset=page * PAGE_SIZE,
                )
                actions = audit.actions(session=session)
        except audit.AuditQueryError as error:
            return _refusal(error)
        self.journeys = [Choice(value=ANY, label="Any journey")] + [
            Choice(value=str(journey_id), label=name) for journey_id, name in names.items()
        ]
        self.actions = actions
        self.page, self.has_next = page, len(found) > PAGE_SIZE
        self.rows = [
            AuditRow(
                at=when(entry.at),
                actor=entry.actor,
                action=entry.action,
                journey=names.get(entry.journey_id, f"#{entry.journey_id}") if entry.journey_id is not None else "",
                detail=", ".join(f"{key}: {value}" for key, value in sorted(entry.detail.items())),
            )
            for entry in found[:PAGE_SIZE]
        ]
        return None

    def _current_filters(self) -> dict[str, str]:
        return {
            "journey": self.journey,
            "actor": self.actor,
            "action": self.action,
            "since": self.since,
            "until": self.until,
        }

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def load(self) -> rx.event.EventSpec | None:
        return self._show(self._current_filters(), 0)

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def apply(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        # The browser's form sends text; anything else was not sent by this page's form.
        if not isinstance(form, dict):
            return rx.toast.error("The filter form was not understood; nothing was changed.")
        filters = {}
        for name, label in FIELDS.items():
            value = form.get(name, "")
            if not isinstance(value, str):
                return rx.toast.error(f"{label}: expected text.")
            filters[name] = value or (ANY if name in ("journey", "action") else "")
        return self._show(filters, 0)

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def clear(self) -> rx.event.EventSpec | None:
        self.form_key += 1
        return self._show({"journey": ANY, "actor": "", "action": ANY, "since": "", "until": ""}, 0)

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def next_page(self) -> rx.event.EventSpec | None:
        return self._show(self._current_filters(), self.page + 1) if self.has_next else None

    @rx.event
    @viewing(Action.VIEW_AUDIT)
    def previous_page(self) -> rx.event.EventSpec | None:
        return self._show(self._current_filters(), self.page - 1) if self.page > 0 else None


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
