"""What the admin pages share: their tabs inside the app shell, and how they show times."""

from __future__ import annotations

from datetime import datetime

import reflex as rx

from journey_builder import routes
from journey_builder.auth import SessionState
from journey_builder.components.layout import app_shell, page_header

# Each tab shows for the roles that may open it (the page's handlers check on the server).
TABS = (
    ("Users", routes.admin_users(), "users", SessionState.can_manage_users),
    ("Keys and tokens", routes.admin_keys(), "key-round", SessionState.can_manage_keys),
    ("Audit log", routes.admin_audit(), "scroll-text", SessionState.can_view_audit),
)


def when(moment: datetime | None, never: str = "—") -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else never


def admin_page(title: str, subtitle: str, tab: str, *children: rx.Component) -> rx.Component:
    return app_shell(
        page_header(title, subtitle),
        rx.hstack(
            *[
                rx.cond(
                    may_open,
                    rx.link(
                        rx.hstack(rx.icon(icon, size=15), rx.text(label, size="2", weight="medium"), spacing="2"),
                        href=href,
                        underline="none",
                        class_name="jb-nav-link jb-nav-active" if label == tab else "jb-nav-link",
                        aria_current="page" if label == tab else None,
                    ),
                )
                for label, href, icon, may_open in TABS
            ],
            spacing="1",
            margin_top="-12px",
        ),
        *children,
        active="Admin",
    )


def confirm(
    trigger: rx.Component, title: str, text: rx.Var[str] | str, action: str, on_confirm: rx.event.EventSpec
) -> rx.Component:
    """``trigger`` opens a dialog; only its ``action`` button does the deed."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(text),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(action, color_scheme="red", on_click=on_confirm)),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
    )


def error_callout(message: rx.Var[str]) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", size="1", role="alert", width="100%"),
    )
