"""Signing in and out. The first admin is created on the first-run page instead (see ``first_run.py``).

The engine throttles sign-ins by the client's address: Reflex's ``router.session.client_ip``, the peer of
the page's websocket. Behind reverse proxies that address is the nearest proxy's, unless Reflex is told
how many proxies to trust (``REFLEX_TRUSTED_PROXY_HOPS``, default 0), and then it takes the client's
address from X-Forwarded-For; a client can write any X-Forwarded-For, so it is never trusted by default.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from engine.accounts import SignInError, has_users, identity_for, issue_handoff, sign_in
from engine.store import session_scope
from journey_builder import routes
from journey_builder.auth import public, session_secret, take_session
from journey_builder.components.layout import centered_card, field


def _sign_in(email: str, password: str, client: str) -> str:
    """Sign in, and the one-time code that trades the new session for its cookie."""
    with session_scope() as session:
        _, secret = sign_in(session=session, email=email, password=password, client=client)
        return issue_handoff(session=session, secret=secret)


def sentence(reason: str) -> str:
    """An engine message ("email or password is wrong, ...") as the page says it."""
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
        secret = session_secret(self)
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
            code = await asyncio.to_thread(
                _sign_in, form.get("email", ""), form.get("password", ""), self.router.session.client_ip
            )
        except SignInError as error:
            self.error = sentence(str(error))
            return None
        self.error = ""
        return take_session(code, self._next())


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
