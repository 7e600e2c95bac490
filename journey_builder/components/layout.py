"""The app shell: a top bar with the product name, the sections the signed-in role may use, and who is signed in."""

from __future__ import annotations

import reflex as rx

from journey_builder import routes
from journey_builder.auth import SessionState

# Each entry shows when its condition holds for the signed-in user; the pages check again on the server.
NAVIGATION = (
    ("Journeys", routes.journeys_list(), "route", SessionState.signed_in),
    ("Dashboard", routes.dashboard(), "layout-dashboard", SessionState.signed_in),
    ("Customers", routes.customers(), "users", SessionState.can_view_customers),
    ("Tasks", routes.tasks(), "clipboard-list", SessionState.can_work_tasks),
    ("Admin", routes.admin_users(), "shield", SessionState.can_administer),
)


def _brand() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.center(rx.icon("waypoints", size=18, color="white"), class_name="jb-logo"),
            rx.text("Journey Builder", weight="bold", size="4", class_name="jb-brand-name"),
            align="center",
            spacing="3",
        ),
        href=routes.journeys_list(),
        underline="none",
    )


def _nav_link(label: str, href: str, icon: str, active: bool) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label, size="2", weight="medium"), align="center", spacing="2"),
        href=href,
        underline="none",
        class_name="jb-nav-link jb-nav-active" if active else "jb-nav-link",
        aria_current="page" if active else None,
    )


def _who() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(SessionState.display_name, size="2", weight="medium", data_testid="signed-in-name"),
            rx.text(SessionState.user_role, size="1", color_scheme="gray", data_testid="signed-in-role"),
            spacing="0",
            align="end",
        ),
        rx.link(
            rx.hstack(rx.icon("log-out", size=15), rx.text("Sign out", size="2"), align="center", spacing="1"),
            href=routes.sign_out(),
            underline="none",
            class_name="jb-nav-link",
        ),
        align="center",
        spacing="3",
    )


def top_bar(active: str) -> rx.Component:
    return rx.el.header(
        rx.hstack(
            _brand(),
            rx.hstack(
                *[
                    rx.cond(shown, _nav_link(label, href, icon, label == active))
                    for label, href, icon, shown in NAVIGATION
                ],
                spacing="1",
                align="center",
            ),
            rx.spacer(),
            rx.link(
                rx.hstack(rx.icon("book-open", size=15), rx.text("API", size="2"), align="center", spacing="1"),
                href=routes.API_DOCS,
                is_external=True,
                underline="none",
                class_name="jb-nav-link",
            ),
            rx.cond(SessionState.signed_in, _who()),
            align="center",
            spacing="6",
            class_name="jb-topbar-inner",
        ),
        class_name="jb-topbar",
    )


def app_shell(*children: rx.Component, active: str) -> rx.Component:
    """A page inside the shell; ``active`` names the navigation entry the page belongs to."""
    return rx.box(
        top_bar(active),
        rx.el.main(*children, class_name="jb-page"),
        class_name="jb-app",
    )


def page_header(title: rx.Component | str, subtitle: rx.Component | str, *actions: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.heading(title, size="7", weight="bold", class_name="jb-page-title"),
            rx.text(subtitle, size="3", color_scheme="gray"),
            spacing="1",
        ),
        rx.spacer(),
        *actions,
        align="end",
        width="100%",
        class_name="jb-page-header",
    )


def centered_card(title: str, subtitle: str, *children: rx.Component) -> rx.Component:
    """A page of its own, outside the shell: signing in and the first run."""
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.center(rx.icon("waypoints", size=18, color="white"), class_name="jb-logo"),
                    rx.text("Journey Builder", weight="bold", size="4", class_name="jb-brand-name"),
                    align="center",
                    spacing="3",
                ),
                rx.heading(title, size="6", weight="bold", margin_top="12px"),
                rx.text(subtitle, size="2", color_scheme="gray"),
                *children,
                spacing="3",
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="420px",
        ),
        min_height="100vh",
        padding="24px",
        class_name="jb-app",
    )


def field(label: str, control: rx.Component, width: str = "100%") -> rx.Component:
    return rx.el.label(
        rx.vstack(rx.text(label, size="2", weight="medium"), control, spacing="1", width="100%"),
        width=width,
    )
