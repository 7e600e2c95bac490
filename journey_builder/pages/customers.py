"""Customer look-up: find people by part of their name, email, phone or id, pick one, and see their journeys, the
step each run is on, and what they did and were sent — the context a support agent needs when that customer calls."""

from __future__ import annotations

import dataclasses

import reflex as rx

from engine.accounts import Action
from engine.runtime import SANDBOXED, CustomerView, customer_view, search_customers
from engine.store import session_scope
from journey_builder.auth import viewing

# A longer text is shown cut, with the rest a click away.
SHORT_TEXT = 160


@dataclasses.dataclass(frozen=True)
class MatchRow:
    profile_id: int
    label: str
    email: str
    phone: str


@dataclasses.dataclass(frozen=True)
class RunRow:
    journey: str
    status: str
    step: str
    due: str
    entered: str
    end_reason: str
    failure: str


@dataclasses.dataclass(frozen=True)
class TimelineRow:
    at: str
    kind: str
    title: str
    detail: str
    # The first SHORT_TEXT characters and an ellipsis when ``detail`` is longer, else "".
    short: str = ""


def _shortened(text: str) -> str:
    return text[:SHORT_TEXT].rstrip() + "…" if len(text) > SHORT_TEXT else ""


class CustomerState(rx.State):
    query: str = ""
    searched: bool = False
    matches: list[MatchRow] = rx.field(default_factory=list)
    found: bool = False
    profile_id: int = 0
    user_id: str = ""
    traits: str = ""
    consent: str = ""
    runs: list[RunRow] = rx.field(default_factory=list)
    timeline: list[TimelineRow] = rx.field(default_factory=list)

    @rx.event
    @viewing(Action.VIEW_CUSTOMERS)
    def open(self) -> None:
        """The page's on_load: customer data is shown only to roles that may see it."""

    @rx.event
    @viewing(Action.VIEW_CUSTOMERS)
    def set_query(self, value: str) -> rx.event.EventSpec | None:
        if not isinstance(value, str):
            return rx.toast.error("Search: expected text.")
        self.query = value
        return None

    @rx.event
    @viewing(Action.VIEW_CUSTOMERS)
    def search(self) -> rx.event.EventSpec | None:
        # PostgreSQL refuses text holding NUL, even to compare, so no name, id or email stored there holds one.
        if "\x00" in self.query:
            return rx.toast.error("Search: a name, email, phone or id cannot hold a NUL character.")
        with session_scope() as session:
            found = search_customers(session=session, query=self.query)
            # One match needs no picking.
            view = customer_view(session=session, profile_id=found[0].profile_id) if len(found) == 1 else None
        self.searched = True
        self.matches = [
            MatchRow(
                profile_id=m.profile_id,
                label=" · ".join(part for part in (m.name, m.user_id or f"anonymous #{m.profile_id}") if part),
                email=m.email,
                phone=m.phone,
            )
            for m in found
        ]
        self._show(view)
        return None

    @rx.event
    @viewing(Action.VIEW_CUSTOMERS)
    def pick(self, profile_id: int) -> None:
        if not any(m.profile_id == profile_id for m in self.matches):
            return
        with session_scope() as session:
            view = customer_view(session=session, profile_id=profile_id)
        self._show(view)

    def _show(self, view: CustomerView | None) -> None:
        self.found = view is not None
        if view is None:
            self.profile_id, self.runs, self.timeline = 0, [], []
            return
        self.profile_id = view.profile_id
        self.user_id = view.user_id or f"anonymous #{view.profile_id}"
        self.traits = ", ".join(f"{k}: {v}" for k, v in sorted(view.traits.items()))
        self.consent = ", ".join(f"{k}: {'yes' if v else 'opted out'}" for k, v in sorted(view.consent.items())) or (
            "no opt-outs"
        )
        self.runs = [
            RunRow(
                journey=r.journey_name,
                status=r.status.value,
                step=r.step_title or r.step_id or "—",
                due=f"{r.due_at:%Y-%m-%d %H:%M}" if r.due_at else "—",
                entered=f"{r.entered_at:%Y-%m-%d %H:%M}",
                end_reason=r.end_reason or "",
                failure=r.failure or "",
            )
            for r in view.runs
        ]
        self.timeline = [
            TimelineRow(
                at=f"{t.at:%Y-%m-%d %H:%M:%S}",
                kind=t.kind,
                title=t.title,
                detail=t.detail,
                short=_shortened(t.detail),
            )
            for t in view.timeline
        ]


def _match(match: rx.Var[MatchRow]) -> rx.Component:
    return rx.button(
        rx.hstack(
            rx.icon("user", size=14),
            rx.text(match.label, weight="medium", size="2"),
            rx.text(match.email, size="2", color_scheme="gray"),
            rx.text(match.phone, size="2", color_scheme="gray"),
            spacing="3",
            align="center",
        ),
        on_click=CustomerState.pick(match.profile_id),
        variant=rx.cond(CustomerState.profile_id == match.profile_id, "soft", "ghost"),
        color_scheme="gray",
        justify_content="flex-start",
        width="100%",
        data_testid="customer-match",
    )


def _matches() -> rx.Component:
    return rx.card(
        rx.text(
            CustomerState.matches.length().to_string() + " customer(s) match; pick one.",
            size="2",
            color_scheme="gray",
        ),
        rx.vstack(rx.foreach(CustomerState.matches, _match), spacing="1", width="100%", margin_top="0.5em"),
        width="100%",
    )


def _detail(item: rx.Var[TimelineRow]) -> rx.Component:
    text = {"white_space": "pre-wrap", "size": "1", "color_scheme": "gray"}
    return rx.cond(
        item.short != "",
        rx.el.details(
            rx.el.summary(
                rx.text(
                    rx.text.span(item.short, class_name="jb-more-short"),
                    rx.text.span(class_name="jb-more-toggle", aria_label="Show the whole text"),
                    **text,
                )
            ),
            rx.text(item.detail, **text),
            class_name="jb-more",
        ),
        rx.text(item.detail, **text),
    )


def _timeline_item(item: rx.Var[TimelineRow]) -> rx.Component:
    return rx.hstack(
        rx.text(item.at, size="1", color_scheme="gray", min_width="11em"),
        rx.vstack(
            rx.hstack(
                rx.badge(
                    item.kind, variant="soft", color_scheme=rx.cond(item.kind.contains(SANDBOXED), "gray", "blue")
                ),
                rx.text(item.title, size="2", weight="medium"),
                spacing="2",
                align="center",
            ),
            rx.cond(item.detail != "", _detail(item)),
            spacing="1",
            width="100%",
        ),
        spacing="3",
        align="start",
        width="100%",
        data_testid="timeline-item",
    )


def _customer() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.heading(CustomerState.user_id, size="4"),
            rx.text(CustomerState.traits, size="2"),
            rx.text("Consent: ", CustomerState.consent, size="2", color_scheme="gray"),
            width="100%",
        ),
        rx.card(
            rx.heading("Journeys", size="4"),
            rx.cond(
                CustomerState.runs.length() == 0,
                rx.text("Not in any journey yet.", size="2", color_scheme="gray"),
            ),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Journey", "Status", "Step", "Next due", "Entered", "Ended by")
                        ]
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        CustomerState.runs,
                        lambda r: rx.table.row(
                            rx.table.cell(r.journey),
                            rx.table.cell(r.status),
                            rx.table.cell(r.step),
                            rx.table.cell(r.due),
                            rx.table.cell(r.entered),
                            rx.table.cell(
                                r.end_reason,
                                rx.cond(r.failure != "", rx.text(r.failure, size="1", color="red")),
                            ),
                        ),
                    )
                ),
                size="1",
            ),
            width="100%",
        ),
        rx.card(
            rx.heading("Timeline", size="4"),
            rx.vstack(rx.foreach(CustomerState.timeline, _timeline_item), spacing="3", margin_top="0.5em"),
            width="100%",
        ),
        width="100%",
        spacing="4",
    )


def customers_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Customer look-up", size="7"),
        rx.form(
            rx.hstack(
                rx.input(
                    placeholder="Part of a name, email, phone or id",
                    value=CustomerState.query,
                    on_change=CustomerState.set_query,
                    aria_label="Find a customer",
                    width="24em",
                ),
                rx.button("Look up", type="submit"),
            ),
            on_submit=lambda _: CustomerState.search(),
        ),
        rx.cond(CustomerState.matches.length() > 0, _matches()),
        rx.cond(
            CustomerState.found,
            _customer(),
            rx.cond(
                CustomerState.searched & (CustomerState.matches.length() == 0),
                rx.callout("No customer matches that.", color_scheme="amber"),
            ),
        ),
        spacing="5",
        width="100%",
    )
