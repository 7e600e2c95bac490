"""Signing in and out. The first admin is created on the first-run page instead (see ``first_run.py``)."""

from __future__ import annotations

import asyncio

import reflex as rx

from engine.accounts import Identity, SignInError, has_users, identity_for, sign_in
from engine.store import session_scope
from journey_builder import routes
from journey_builder.auth import SessionState, public
from journey_builder.components.layout import centered_card, field


def _sign_in(email: str, password: str) -> tuple[Identity, str]:
    with session_scope() as session:
        return sign_in(session=session, email=email, password=password)


def sentence(reason: str) -> str:
    """An engine message ("wrong email or password") as the page says it."""
    return reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


class SignInState(rx.State):
    error: str = ""
    busy: bool = False

    def _next(self) -> str:
        return routes.safe_next(self.router.url.query_parameters.get("next"))

    @public
    @rx.event
    async def open(self) -> rx.event.EventSpec | None:
        """The page's on_load: the first run comes first, and a signed-in browser goes where it was headed."""
        self.error, self.busy = "", False
        secret = (await self.get_state(SessionState)).secret
        with session_scope() as session:
            if not has_users(session=session):
                return rx.redirect(routes.first_run())
            signed_in = identity_for(session=session, secret=secret) is not None
        return rx.redirect(self._next()) if signed_in else None

    @public
    @rx.event
    async def sign_in(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        # argon2 takes a noticeable moment on purpose; the event loop serves everyone else meanwhile.
        try:
            identity, secret = await asyncio.to_thread(_sign_in, form.get("email", ""), form.get("password", ""))
        except SignInError as error:
            self.error = sentence(str(error))
            return None
        self.error = ""
        (await self.get_state(SessionState))._start(identity, secret)
        return rx.redirect(self._next())


def sign_in_page() -> rx.Component:
    return centered_card(
        "Sign in",
        "Use the email and password your admin gave you.",
        rx.form(
            rx.vstack(
                field(
                    "Email",
                    rx.input(name="email", type="email", auto_complete="username", required=True, width="100%"),
                ),
                field(
                    "Password",
                    rx.input(
                        name="password", type="password", auto_complete="current-password", required=True, width="100%"
                    ),
                ),
                rx.cond(
                    SignInState.error != "",
                    rx.callout(
                        SignInState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        role="alert",
                        width="100%",
                    ),
                ),
                rx.button("Sign in", type="submit", size="3", width="100%"),
                spacing="3",
                width="100%",
            ),
            on_submit=SignInState.sign_in,
            width="100%",
        ),
    )


def sign_out_page() -> rx.Component:
    return centered_card("Signing out…", "You will be taken to the sign-in page.")
