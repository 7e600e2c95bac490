"""Customer look-up: one person's journeys, the step each run is on, and what they did and were sent —
the context a support agent needs when that customer calls."""

from __future__ import annotations

import dataclasses

import reflex as rx

from engine.accounts import Action
from engine.runtime import find_customer
from engine.store import session_scope
from journey_builder.auth import viewing


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


class CustomerState(rx.State):
    query: str = ""
    searched: bool = False
    found: bool = False
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
        # PostgreSQL refuses text holding NUL, even to compare, so no id or email stored there holds one.
        if "\x00" in self.query:
            return rx.toast.error("Search: a user id, anonymous id or email cannot hold a NUL character.")
        with session_scope() as session:
            view = find_customer(session=session, query=self.query)
        self.searched, self.found = True, view is not None
        if view is None:
            self.runs, self.timeline = [], []
            return None
        self.user_id = view.user_id or f"anonymous #{view.profile_id}"
        self.traits = ", ".join(f"{k}: {v}" for k, v in sorted(view.traits.items()))
        self.consent = ", ".join(f"{k}: {'yes' if v else 'opted out'}" for k, v in sorted(view.consent.items())) or (
            "no opt-outs"
        )
        self.runs = [
            RunRow(
                journey=r.journey_name,
                status=r.status.value,
                step=r.step_id or "—",
                due=f"{r.due_at:%Y-%m-%d %H:%M}" if r.due_at else "—",
                entered=f"{r.entered_at:%Y-%m-%d %H:%M}",
                end_reason=r.end_reason or "",
                failure=r.failure or "",
            )
            for r in view.runs
        ]
        self.timeline = [
            TimelineRow(at=f"{t.at:%Y-%m-%d %H:%M:%S}", kind=t.kind, title=t.title, detail=t.detail)
            for t in view.timeline
        ]
        return None


def customers_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Customer look-up", size="7"),
        rx.form(
            rx.hstack(
                rx.input(
                    placeholder="User id, anonymous id or email",
                    value=CustomerState.query,
                    on_change=CustomerState.set_query,
                    width="24em",
                ),
                rx.button("Look up", type="submit"),
            ),
            on_submit=lambda _: CustomerState.search(),
        ),
        rx.cond(
            CustomerState.found,
            rx.vstack(
                rx.card(
                    rx.heading(CustomerState.user_id, size="4"),
                    rx.text(CustomerState.traits, size="2"),
                    rx.text("Consent: ", CustomerState.consent, size="2", color_scheme="gray"),
                    width="100%",
                ),
                rx.card(
                    rx.heading("Journeys", size="4"),
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
                    rx.vstack(
                        rx.foreach(
                            CustomerState.timeline,
                            lambda t: rx.hstack(
                                rx.text(t.at, size="1", color_scheme="gray", width="11em"),
                                rx.badge(t.kind, variant="soft"),
                                rx.text(t.title, size="2", weight="medium"),
                                rx.text(t.detail, size="1", color_scheme="gray"),
                                spacing="3",
                                align="center",
                            ),
                        )
                    ),
                    width="100%",
                ),
                width="100%",
                spacing="4",
            ),
            rx.cond(CustomerState.searched, rx.callout("No customer matches that.", color_scheme="amber")),
        ),
        spacing="5",
        width="100%",
    )
