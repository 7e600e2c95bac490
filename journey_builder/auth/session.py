"""Who is signed in, in this browser: the session secret in a cookie, and what the UI may offer them.

The cookie is written by Reflex's frontend (``rx.Cookie`` is set from JavaScript when the state changes),
so it cannot be HttpOnly; SameSite=strict keeps it off other sites' requests. It is only a key: every
guarded handler looks the identity up again from it (see ``guard.py``), so the name and role shown here
are for display and never decide anything on the server.
"""

from __future__ import annotations

import reflex as rx

from engine.accounts import SESSION_MAX, Action, Identity, allowed, sign_out
from engine.store import Role, session_scope
from journey_builder import routes

from .rules import public

SESSION_COOKIE = "jb_session"


class SessionState(rx.State):
    # The browser forgets the cookie when no session could still be valid; the server decides before then.
    secret: str = rx.Cookie(
        "", name=SESSION_COOKIE, path="/", max_age=int(SESSION_MAX.total_seconds()), same_site="strict"
    )
    user_email: str = ""
    user_name: str = ""
    user_role: str = ""

    def _show(self, identity: Identity | None) -> None:
        """Display ``identity`` (None: nobody); assigns only what changed, so an unchanged view sends nothing."""
        email, name, role = (identity.email, identity.name, identity.role.value) if identity else ("", "", "")
        if (self.user_email, self.user_name, self.user_role) != (email, name, role):
            self.user_email, self.user_name, self.user_role = email, name, role

    def _can(self, action: Action) -> bool:
        return any(role.value == self.user_role and allowed(role, action) for role in Role)

    @rx.var
    def signed_in(self) -> bool:
        return self.user_role != ""

    @rx.var
    def display_name(self) -> str:
        return self.user_name or self.user_email

    @rx.var
    def can_edit(self) -> bool:
        return self._can(Action.EDIT_DRAFT)

    @rx.var
    def can_publish(self) -> bool:
        return self._can(Action.PUBLISH)

    @rx.var
    def can_launch(self) -> bool:
        return self._can(Action.LAUNCH)

    @rx.var
    def can_pause(self) -> bool:
        return self._can(Action.PAUSE)

    @rx.var
    def can_resume(self) -> bool:
        return self._can(Action.RESUME)

    @rx.var
    def can_stop(self) -> bool:
        return self._can(Action.STOP)

    @rx.var
    def can_test_send(self) -> bool:
        return self._can(Action.TEST_SEND)

    @rx.var
    def can_view_customers(self) -> bool:
        return self._can(Action.VIEW_CUSTOMERS)

    @rx.var
    def can_manage_users(self) -> bool:
        return self._can(Action.MANAGE_USERS)

    @rx.var
    def can_manage_keys(self) -> bool:
        return self._can(Action.MANAGE_KEYS)

    @rx.var
    def can_administer(self) -> bool:
        return self._can(Action.MANAGE_USERS) or self._can(Action.MANAGE_KEYS)

    def _start(self, identity: Identity, secret: str) -> None:
        """Remember a new session in this browser (after signing in)."""
        self.secret = secret
        self._show(identity)

    @public
    @rx.event
    def sign_out(self) -> list[rx.event.EventSpec]:
        if self.secret:
            with session_scope() as session:
                sign_out(session=session, secret=self.secret)
        self.secret = ""
        self._show(None)
        # The assignment above reaches the cookie only once the page is hydrated; removing it always does.
        return [rx.remove_cookie(SESSION_COOKIE, {"path": "/", "sameSite": "strict"}), rx.redirect(routes.sign_in())]
