"""The app shell: a top bar with the product name and navigation above each page's content."""

from __future__ import annotations

import reflex as rx

from journey_builder import routes

NAVIGATION = (
    ("Journeys", routes.journeys_list(), "route"),
    ("Dashboard", routes.dashboard(), "layout-dashboard"),
    ("Customers", routes.customers(), "users"),
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


def top_bar(active: str) -> rx.Component:
    return rx.el.header(
        rx.hstack(
            _brand(),
            rx.hstack(
                *[_nav_link(label, href, icon, label == active) for label, href, icon in NAVIGATION],
                spacing="1",
                align="center",
            ),
            rx.spacer(),
            rx.link(
                rx.hstack(rx.icon("book-open", size=15), rx.text("API", size="2"), align="center", spacing="1"),
                href="/api/docs",
                is_external=True,
                underline="none",
                class_name="jb-nav-link",
            ),
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
