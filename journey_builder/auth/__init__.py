"""Signing in, and the guard every state event handler goes through.

Every event handler of every state carries exactly one rule, under ``@rx.event``::

    from engine.accounts.permissions import Action
    from journey_builder.auth import acting, requires, viewing

    class KpiState(rx.State):
        @rx.event
        @viewing(Action.VIEW_JOURNEYS)          # loads, filters, toggles: reads only
        def load(self) -> None: ...

        @rx.event
        @requires(Action.PAUSE)                 # anything that changes data
        def pause(self) -> rx.event.EventSpec:
            lifecycle.pause_journey(..., actor=acting().email)   # who is calling, looked up for this call

``public`` (no identity needed) is only for signing in, the first-run page and signing out. The session
cookie is HttpOnly and set only by the backend's ``/auth/session`` route (``cookie.py``), which the page
calls with a one-time code after signing in (``take_session``); handlers read it from the connection's
request headers (``session_secret``).
The rule is checked on the server at every call, whatever the page shows; a refused call changes nothing
and answers with a toast (and, signed out, a redirect to ``/sign-in?next=...``). Sync, async, generator,
background (``@rx.event(background=True)``) handlers and typed arguments all work unchanged.
``tests/integration/test_permission_matrix.py`` fails for a handler without a rule, so a new handler
cannot slip through. For the UI, ``SessionState.can_edit``, ``can_publish``, ``can_launch``... say which
actions to show; hiding a button is a courtesy, never the check.
"""

from journey_builder.auth.cookie import SESSION_COOKIE, SESSION_ROUTE, SIGN_OUT_ROUTE, session_cookie_api
from journey_builder.auth.guard import acting, requires, viewing
from journey_builder.auth.rules import RULES, Kind, Rule, public, rule_of
from journey_builder.auth.session import SessionState, session_secret, take_session

__all__ = [
    "RULES",
    "SESSION_COOKIE",
    "SESSION_ROUTE",
    "SIGN_OUT_ROUTE",
    "Kind",
    "Rule",
    "SessionState",
    "acting",
    "public",
    "requires",
    "rule_of",
    "session_cookie_api",
    "session_secret",
    "take_session",
    "viewing",
]
