"""The first run: while nobody has an account, the first person to come creates the first admin."""

from __future__ import annotations

import asyncio

import reflex as rx

from engine.accounts import (
    PASSWORD_MIN,
    AccountError,
    SignInError,
    create_user,
    has_users,
    issue_handoff,
    sign_in,
)
from engine.store import Role, session_scope
from journey_builder import routes
from journey_builder.auth import public, take_session
from journey_builder.components.layout import centered_card, field
from journey_builder.pages.sign_in import sentence

FIRST_RUN_ACTOR = "first-run"


class UsersExistError(Exception):
    """Someone finished the first run in the meantime."""


def _create_first_admin(email: str, name: str, password: str, client: str) -> str:
    """Create the admin and sign them in: the one-time code that trades their session for its cookie."""
    # The check that nobody exists yet and the new admin commit together (the sign-in commits its attempt first).
    with session_scope() as session:
        if has_users(session=session):
            raise UsersExistError
        create_user(session=session, email=email, name=name, password=password, role=Role.ADMIN, actor=FIRST_RUN_ACTOR)
        _, secret = sign_in(session=session, email=email, password=password, client=client)
        return issue_handoff(session=session, secret=secret)


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
    async def create_admin(self, form: dict[str, str]) -> rx.event.EventSpec | list[rx.event.EventSpec] | None:
        if form.get("password", "") != form.get("confirm", ""):
            self.error = "The two passwords differ."
            return None
        try:
            code = await asyncio.to_thread(
                _create_first_admin,
                form.get("email", ""),
                form.get("name", ""),
                form.get("password", ""),
                self.router.session.client_ip,
            )
        except UsersExistError:
            return [rx.toast.info("An admin exists already; sign in."), rx.redirect(routes.sign_in())]
        except SignInError:
            # The admin is created; only this client, locked out by earlier failures, may not sign in yet.
            return [rx.toast.info("The admin is created; sign in."), rx.redirect(routes.sign_in())]
        except AccountError as error:
            self.error = sentence(str(error))
            return None
        self.error = ""
        return take_session(code, routes.journeys_list())


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
