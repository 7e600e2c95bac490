"""Launch control: a marketer publishes, launches, pauses, resumes and stops one journey, sees who is
where and what was sent, and sends a test of any message to an address they type."""

from __future__ import annotations

import reflex as rx

from engine.map import PausePolicy
from engine.runtime import SANDBOXED
from journey_builder.auth import SessionState
from journey_builder.pages.launch_forecast import LaunchForecastState, forecast_button, forecast_totals, launch_text
from journey_builder.pages.launch_state import AS_CUSTOMER, SAMPLE, SAMPLE_NAME, LaunchState
from journey_builder.routes import journey_kpis

POLICY_LABELS = {
    PausePolicy.SKIP_OVERDUE_SENDS: "On resume: skip overdue sends",
    PausePolicy.ADVANCE_TO_NEXT_WAIT: "On resume: move on to the next wait",
    PausePolicy.SEND_LATE: "On resume: send late",
}

STATUS_COLORS = {
    "draft": "gray",
    "live": "green",
    "paused": "amber",
    "draining": "orange",
    "stopped": "red",
    "pending": "blue",
    "sending": "blue",
    "in_doubt": "orange",
    "delivered": "green",
    SANDBOXED: "gray",
    "failed": "red",
    "suppressed": "amber",
    "skipped": "gray",
}


def _badge(value: rx.Var[str]) -> rx.Component:
    return rx.badge(value, color_scheme=rx.match(value, *STATUS_COLORS.items(), "gray"), variant="soft")


def _confirm(
    label: str,
    title: str,
    text: str | rx.Var[str],
    on_confirm: rx.event.EventHandler,
    color: str,
    disabled: rx.Var[bool],
    *,
    variant: str = "solid",
    on_open_change: rx.event.EventHandler | None = None,
) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(label, color_scheme=color, disabled=disabled, variant=variant)),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(text),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(label, color_scheme=color, on_click=on_confirm)),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        **({"on_open_change": on_open_change} if on_open_change is not None else {}),
    )


def _publish() -> rx.Component:
    """Publish straight away on a draft; on a journey customers may be inside, after saying what happens to them."""
    blocked = LaunchState.publish_blocked != ""
    return rx.cond(
        LaunchState.publish_warning != "",
        _confirm(
            "Publish draft",
            "Publish version " + LaunchState.next_version.to_string() + " of a running journey?",
            LaunchState.publish_warning,
            LaunchState.publish,
            "blue",
            blocked,
            variant="outline",
        ),
        rx.button("Publish draft", on_click=LaunchState.publish, variant="outline", disabled=blocked),
    )


def _reason(action: str, reason: rx.Var[str], shown: rx.Var[bool]) -> rx.Component:
    """Why a control is disabled, next to the controls rather than in a tooltip nobody hovers."""
    return rx.cond(
        shown & (reason != ""),
        rx.hstack(
            rx.icon("info", size=14),
            rx.text(rx.text.span(action, weight="medium"), ": ", reason, size="2"),
            spacing="2",
            align="center",
            color="var(--gray-11)",
            data_testid=f"{action.lower().replace(' ', '-')}-reason",
        ),
    )


def _controls() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.cond(SessionState.can_publish, _publish()),
            forecast_button(),
            rx.cond(
                SessionState.can_launch,
                _confirm(
                    "Launch",
                    "Launch this journey?",
                    launch_text(),
                    LaunchState.launch,
                    "green",
                    LaunchState.launch_blocked != "",
                    on_open_change=LaunchForecastState.launch_opened,
                ),
            ),
            rx.cond(
                SessionState.can_pause,
                _confirm(
                    "Pause",
                    "Pause this journey?",
                    "No one enters and nothing is sent until you resume.",
                    LaunchState.pause,
                    "amber",
                    LaunchState.pause_blocked != "",
                ),
            ),
            rx.cond(
                SessionState.can_resume,
                rx.hstack(
                    rx.select.root(
                        rx.select.trigger(),
                        rx.select.content(
                            *[rx.select.item(label, value=policy.value) for policy, label in POLICY_LABELS.items()]
                        ),
                        value=LaunchState.resume_policy,
                        on_change=LaunchState.set_resume_policy,
                        size="2",
                    ),
                    _confirm(
                        "Resume",
                        "Resume this journey?",
                        "What fell due while paused is handled by the policy chosen beside the button.",
                        LaunchState.resume,
                        "blue",
                        LaunchState.resume_blocked != "",
                    ),
                    spacing="3",
                ),
            ),
            rx.cond(
                SessionState.can_stop,
                rx.hstack(
                    _confirm(
                        "Drain",
                        "Drain this journey?",
                        "No new entries; customers inside finish their runs.",
                        LaunchState.stop_drain,
                        "orange",
                        LaunchState.drain_blocked != "",
                    ),
                    _confirm(
                        "Stop now",
                        "Stop this journey now?",
                        "Every run ends now and pending messages are skipped.",
                        LaunchState.stop_now,
                        "red",
                        LaunchState.stop_blocked != "",
                    ),
                    spacing="3",
                ),
            ),
            spacing="3",
            wrap="wrap",
        ),
        _reason("Publish", LaunchState.publish_blocked, SessionState.can_publish),
        _reason("Launch", LaunchState.launch_blocked, SessionState.can_launch),
        _reason("Stop now", LaunchState.stop_blocked, SessionState.can_stop & (LaunchState.status != "stopped")),
        forecast_totals(),
        rx.cond(
            ~(SessionState.can_publish | SessionState.can_launch | SessionState.can_pause | SessionState.can_stop),
            rx.callout(
                "You can follow this journey here; publishing, launching and pausing are for marketers.",
                icon="eye",
                color_scheme="gray",
                size="1",
                data_testid="view-only-note",
            ),
        ),
        rx.foreach(LaunchState.problems, lambda p: rx.callout(p, color_scheme="red", size="1")),
        spacing="2",
        width="100%",
    )


def _who_is_where() -> rx.Component:
    return rx.card(
        rx.heading("Who is where", size="4"),
        rx.text(
            f"{LaunchState.in_flight} in flight, {LaunchState.ended} finished",
            rx.cond(LaunchState.failed > 0, rx.text.span(f" (of which {LaunchState.failed} failed)", color="red")),
            color_scheme="gray",
            size="2",
            data_testid="run-counts",
        ),
        rx.cond(
            LaunchState.nodes.length() == 0,
            rx.text("Nobody is waiting in this journey right now.", size="2", margin_top="0.5em"),
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(rx.table.column_header_cell("Step"), rx.table.column_header_cell("Waiting now"))
            ),
            rx.table.body(
                rx.foreach(LaunchState.nodes, lambda n: rx.table.row(rx.table.cell(n.title), rx.table.cell(n.waiting)))
            ),
            size="1",
        ),
        width="100%",
    )


def _messages() -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.heading("Recent messages", size="4"),
            rx.spacer(),
            rx.button("Refresh", on_click=LaunchState.refresh, size="1", variant="soft"),
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Time", "Step", "Channel", "To", "Status", "Reason", "Attempts")
                    ]
                )
            ),
            rx.table.body(
                rx.foreach(
                    LaunchState.messages,
                    lambda m: rx.table.row(
                        rx.table.cell(m.at),
                        rx.table.cell(
                            rx.hstack(
                                rx.text(m.node),
                                rx.cond(m.is_test, rx.badge("test", color_scheme="violet", variant="outline")),
                                spacing="2",
                                align="center",
                            )
                        ),
                        rx.table.cell(m.channel),
                        rx.table.cell(m.recipient),
                        rx.table.cell(_badge(m.status)),
                        rx.table.cell(m.reason),
                        rx.table.cell(m.attempts),
                    ),
                )
            ),
            size="1",
        ),
        width="100%",
    )


def _failures() -> rx.Component:
    return rx.card(
        rx.heading("Failed runs", size="4"),
        rx.text(
            "The engine could not carry these customers on; everyone else went on. The reason says what to fix.",
            color_scheme="gray",
            size="2",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in ("Time", "Customer", "Stage", "Reason")])
            ),
            rx.table.body(
                rx.foreach(
                    LaunchState.failures,
                    lambda f: rx.table.row(
                        rx.table.cell(f.at), rx.table.cell(f.customer), rx.table.cell(f.stage), rx.table.cell(f.reason)
                    ),
                )
            ),
            size="1",
        ),
        width="100%",
        data_testid="failed-runs",
    )


def _in_doubt() -> rx.Component:
    return rx.card(
        rx.heading(f"In doubt ({LaunchState.in_doubt_count})", size="4"),
        rx.text(
            "These messages were with the provider when their worker stopped: they may or may not have arrived. "
            "Resend a held one (the customer may get two) or mark it sent; a stopped journey's can only be marked "
            "sent. SMS and push waiting for a resume are asked again with the same key, which providers "
            "deduplicate on.",
            color_scheme="gray",
            size="2",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in ("Customer", "Step", "To", "Reason", "")])
            ),
            rx.table.body(
                rx.foreach(
                    LaunchState.in_doubt,
                    lambda m: rx.table.row(
                        rx.table.cell(m.customer),
                        rx.table.cell(m.node),
                        rx.table.cell(m.recipient),
                        rx.table.cell(m.reason),
                        rx.table.cell(
                            rx.cond(
                                SessionState.can_resume & m.held,
                                rx.hstack(
                                    rx.cond(
                                        m.resendable,
                                        rx.button("Resend", size="1", on_click=LaunchState.resend_in_doubt(m.id)),
                                    ),
                                    rx.button(
                                        "Mark sent",
                                        size="1",
                                        variant="soft",
                                        on_click=LaunchState.mark_in_doubt_sent(m.id),
                                    ),
                                    spacing="2",
                                ),
                            )
                        ),
                    ),
                )
            ),
            size="1",
        ),
        width="100%",
        data_testid="in-doubt",
    )


def _proof() -> rx.Component:
    return rx.card(
        rx.heading("Send a test", size="4"),
        rx.text(
            "A test goes only to the address you type, marked [TEST]; no customer's timeline or KPIs count it.",
            size="2",
            color_scheme="gray",
        ),
        rx.flex(
            rx.vstack(
                rx.text("Message", size="1", weight="medium"),
                rx.select.root(
                    rx.select.trigger(placeholder="Message", aria_label="Message"),
                    rx.select.content(
                        rx.foreach(LaunchState.message_choices, lambda c: rx.select.item(c.label, value=c.node_id))
                    ),
                    value=LaunchState.proof_node,
                    on_change=LaunchState.set_proof_node,
                ),
                spacing="1",
            ),
            rx.vstack(
                rx.text("Send to", size="1", weight="medium"),
                rx.input(
                    placeholder=LaunchState.proof_to_hint,
                    value=LaunchState.proof_to,
                    on_change=LaunchState.set_proof_to,
                    aria_label="Send to",
                    width="18em",
                ),
                spacing="1",
            ),
            rx.vstack(
                rx.text("Values", size="1", weight="medium"),
                rx.select.root(
                    rx.select.trigger(aria_label="Values"),
                    rx.select.content(
                        rx.select.item(f"Sample values ({SAMPLE_NAME})", value=SAMPLE),
                        rx.select.item("As an existing customer", value=AS_CUSTOMER),
                    ),
                    value=LaunchState.proof_values,
                    on_change=LaunchState.set_proof_values,
                ),
                spacing="1",
            ),
            rx.cond(
                LaunchState.proof_values == AS_CUSTOMER,
                rx.vstack(
                    rx.text("Customer", size="1", weight="medium"),
                    rx.input(
                        placeholder="User id or email",
                        value=LaunchState.proof_customer,
                        on_change=LaunchState.set_proof_customer,
                        aria_label="Customer",
                        width="14em",
                    ),
                    spacing="1",
                ),
            ),
            rx.button("Send test", on_click=LaunchState.send_proof),
            spacing="3",
            align="end",
            wrap="wrap",
            margin_top="0.75em",
        ),
        rx.cond(
            LaunchState.proof_preview != "",
            rx.box(
                rx.text(LaunchState.proof_note, size="1", weight="medium", color_scheme="gray"),
                rx.text(LaunchState.proof_preview, white_space="pre-wrap", size="2"),
                data_testid="proof-preview",
                padding="1em",
                background="var(--gray-a3)",
                border_radius="8px",
                width="100%",
                margin_top="0.75em",
            ),
        ),
        width="100%",
    )


def _versions() -> rx.Component:
    return rx.card(
        rx.heading("Versions", size="4"),
        rx.cond(
            LaunchState.versions.length() > 0,
            rx.vstack(
                rx.foreach(
                    LaunchState.versions,
                    lambda v: rx.text(f"v{v.number} · {v.published_at} · {v.published_by}", size="2"),
                )
            ),
            rx.text("Not published yet.", color_scheme="gray", size="2"),
        ),
        width="100%",
    )


def launch_page() -> rx.Component:
    return rx.cond(
        LaunchState.not_found,
        rx.callout("There is no such journey.", color_scheme="red"),
        rx.vstack(
            rx.hstack(
                rx.heading(LaunchState.name, size="7"),
                rx.box(_badge(LaunchState.status), data_testid="journey-status"),
                rx.spacer(),
                # Until the page's journey has loaded the links would point at none (id 0).
                rx.cond(
                    LaunchState.journey_id > 0,
                    rx.hstack(
                        rx.link(rx.button("KPIs", variant="soft"), href=journey_kpis(LaunchState.journey_id)),
                        rx.link(rx.button("KPIs on the map", variant="soft"), href=LaunchState.kpi_url),
                        rx.link(rx.button("Open the map", variant="soft"), href=LaunchState.map_url),
                        spacing="3",
                    ),
                ),
                align="center",
                spacing="3",
                width="100%",
            ),
            _controls(),
            rx.grid(_who_is_where(), _versions(), columns="2", spacing="4", width="100%"),
            rx.cond(SessionState.can_test_send, _proof()),
            rx.cond(SessionState.can_view_customers, _messages()),
            rx.cond(SessionState.can_view_customers & (LaunchState.failures.length() > 0), _failures()),
            rx.cond(SessionState.can_view_customers & (LaunchState.in_doubt_count > 0), _in_doubt()),
            spacing="5",
            width="100%",
        ),
    )
