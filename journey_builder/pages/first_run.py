"""The first run: while nobody has an account, the first person to come creates the first admin."""

from __future__ import annotations

import asyncio

import reflex as rx

from engine.accounts import PASSWORD_MIN, AccountError, Identity, create_user, has_users, sign_in
from engine.store import Role, session_scope
from journey_builder import routes
from journey_builder.auth import SessionState, public
from journey_builder.components.layout import centered_card, field
from journey_builder.pages.sign_in import sentence

FIRST_RUN_ACTOR = "first-run"


class UsersExistError(Exception):
    """Someone finished the first run in the meantime."""


def _create_first_admin(email: str, name: str, password: str) -> tuple[Identity, str]:
    # One transaction: the check that nobody exists yet and the new admin commit together.
    with session_scope() as session:
        if has_users(session=session):
            raise UsersExistError
        create_user(session=session, email=email, name=name, password=password, role=Role.ADMIN, actor=FIRST_RUN_ACTOR)
        return sign_in(session=session, email=email, password=password)


class FirstRunState(rx.State):
    error: str = ""

    @public
    @rx.event
    def open(self) -> rx.event.EventSpec | None:
        """The page's on_load: once anyone has an account, this page is gone."""
        self.error = ""
        with session_scope() as session:
            return rx.redirect(routes.sign_in()) if has_users(session=session) else None

    @public
    @rx.event
    async def create_admin(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        if form.get("password", "") != form.get("confirm", ""):
            self.error = "The two passwords differ."
            return None
        try:
            identity, secret = await asyncio.to_thread(
                _create_first_admin, form.get("email", ""), form.get("name", ""), form.get("password", "")
            )
        except UsersExistError:
            return [rx.toast.info("An admin exists already; sign in."), rx.redirect(routes.sign_in())]
        except AccountError as error:
            self.error = sentence(str(error))
            return None
        self.error = ""
        (await self.get_state(SessionState))._start(identity, secret)
        return [
            rx.toast.success(f"Welcome, {identity.name or identity.email}: you are the admin."),
            rx.redirect(routes.journeys_list()),
        ]


def first_run_page() -> rx.Component:
    return centered_card(
        "Create the first admin",
        "Nobody has an account yet. The admin you create here invites everyone else.",
        rx.form(
            rx.vstack(
                field("Name", rx.input(name="name", auto_complete="name", width="100%")),
                field(
                    "Email",
                    rx.input(name="email", type="email", auto_complete="username", required=True, width="100%"),
                ),
                field(
                    f"Password (at least {PASSWORD_MIN} characters)",
                    rx.input(
                        name="password",
                        type="password",
                        auto_complete="new-password",
                        required=True,
                        min_length=PASSWORD_MIN,
                        width="100%",
                    ),
                ),
                field(
                    "Password again",
                    rx.input(
                        name="confirm", type="password", auto_complete="new-password", required=True, width="100%"
                    ),
                ),
                rx.cond(
                    FirstRunState.error != "",
                    rx.callout(
                        FirstRunState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        role="alert",
                        width="100%",
                    ),
                ),
                rx.button("Create admin and sign in", type="submit", size="3", width="100%"),
                spacing="3",
                width="100%",
            ),
            on_submit=FirstRunState.create_admin,
            width="100%",
        ),
    )
