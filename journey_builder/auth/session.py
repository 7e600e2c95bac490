"""Who is signed in, in this browser: the session cookie, and what the UI may offer them.

The session secret lives in an HttpOnly cookie that only the backend sets and clears (``cookie.py``): the
page's JavaScript can neither read nor write it, so a script slipped into the page cannot carry it off.
The browser sends it with the request that opens the page's websocket, and Reflex keeps that request's
headers for the whole connection: ``session_secret`` reads it there. Reflex leaves the Cookie header out
of the state it sends to the browser, and no state var holds the secret. A new or cleared cookie counts
from the next connection, so signing in and out end with a full page load.

The cookie is only a key: every guarded handler looks the identity up again from it (see ``guard.py``),
so the name and role shown here are for display and never decide anything on the server.
"""

from __future__ import annotations

import json

import reflex as rx

from engine.accounts import Action, Identity, allowed, sign_out
from engine.store import Role, session_scope
from journey_builder import routes

from .cookie import SESSION_COOKIE, SESSION_ROUTE, SIGN_OUT_ROUTE
from .rules import public


def session_secret(state: rx.State) -> str:
    """The session secret in the cookie the browser's connection sent ("" when it sent none)."""
    for part in state.router.headers.cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE:
            return value
    return ""


def _post_then_load(route: str, body: str, then: str) -> rx.event.EventSpec:
    """Have the browser POST ``body`` to the backend's ``route`` (which sets or clears the cookie), then load
    ``then``, a path of this app, afresh: the new connection carries the new cookie."""
    url = rx.config.get_config().api_url.rstrip("/") + route
    return rx.call_script(
        f"fetch({json.dumps(url)}, {{method: 'POST', mode: 'no-cors', credentials: 'include', "
        f"body: {json.dumps(body)}}}).finally(() => window.location.assign({json.dumps(then)}))"
    )


def take_session(code: str, then: str) -> rx.event.EventSpec:
    """After signing in: trade the one-time ``code`` for the session cookie, then open ``then``."""
    return _post_then_load(SESSION_ROUTE, code, routes.safe_next(then))


# What launch control does; a role that may do none of it is not offered the way there.
RUN_ACTIONS = (Action.PUBLISH, Action.LAUNCH, Action.PAUSE, Action.RESUME, Action.STOP, Action.TEST_SEND)


class SessionState(rx.State):
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
    def can_run_journeys(self) -> bool:
        """Whether launch control (publish, launch, pause, resume, stop, test sends) is any use to this role:
        its links show only then, so an executive sees no controls that are not theirs."""
        return any(self._can(action) for action in RUN_ACTIONS)

    @rx.var
    def can_test_send(self) -> bool:
        return self._can(Action.TEST_SEND)

    @rx.var
    def can_view_customers(self) -> bool:
        return self._can(Action.VIEW_CUSTOMERS)

    @rx.var
    def can_forecast(self) -> bool:
        return self._can(Action.FORECAST)

    @rx.var
    def can_work_tasks(self) -> bool:
        return self._can(Action.WORK_TASKS)

    @rx.var
    def can_manage_users(self) -> bool:
        return self._can(Action.MANAGE_USERS)

    @rx.var
    def can_manage_keys(self) -> bool:
        return self._can(Action.MANAGE_KEYS)

    @rx.var
    def can_view_audit(self) -> bool:
        return self._can(Action.VIEW_AUDIT)

    @rx.var
    def can_administer(self) -> bool:
        return any(self._can(action) for action in (Action.MANAGE_USERS, Action.MANAGE_KEYS, Action.VIEW_AUDIT))

    @public
    @rx.event
    def sign_out(self) -> rx.event.EventSpec:
        # Ended here, the session is over even if the browser never reaches the route that clears its cookie.
        secret = session_secret(self)
        if secret:
            with session_scope() as session:
                sign_out(session=session, secret=secret)
        self._show(None)
        return _post_then_load(SIGN_OUT_ROUTE, "", routes.sign_in())
