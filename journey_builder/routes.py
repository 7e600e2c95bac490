"""Every page's route pattern, and the builders that turn ids into links.

Pages are registered with the patterns; components and tests link with the builders, so a route is
spelt in one place. A builder accepts a state Var as well as a plain id (``journey_editor(row.id)``
inside ``rx.foreach``): the f-string then becomes a JavaScript template on the page.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

import reflex as rx
from reflex.utils.imports import ImportVar
from reflex.vars import VarData

JOURNEYS_LIST: Final = "/"
JOURNEY_EDITOR: Final = "/journeys/[id]"
JOURNEY_LAUNCH: Final = "/journeys/[id]/launch"
JOURNEY_KPIS: Final = "/journeys/[id]/kpis"
DASHBOARD: Final = "/dashboard"
CUSTOMERS: Final = "/customers"
TASKS: Final = "/tasks"
SIGN_IN: Final = "/sign-in"
SIGN_OUT: Final = "/sign-out"
FIRST_RUN: Final = "/first-run"
ADMIN_USERS: Final = "/admin/users"
ADMIN_KEYS: Final = "/admin/keys"
ADMIN_AUDIT: Final = "/admin/audit"

# Pages that need no signed-in user; a sign-in never sends anyone back to one of them.
OPEN_PAGES: Final = frozenset({SIGN_IN, SIGN_OUT, FIRST_RUN})

# The dynamic segment of the journey routes; its value reaches the states as the route param "id".
JOURNEY_ID_PARAM: Final = "id"
# ``?view=kpi`` on the map opens it view-only with the KPI overlay on: the link executives are given.
VIEW_PARAM: Final = "view"
KPI_VIEW: Final = "kpi"
# ``?new=1`` on the journeys list opens the dialog that starts a new journey.
NEW_PARAM: Final = "new"


def journeys_list() -> str:
    return JOURNEYS_LIST


def new_journey() -> str:
    """The journeys list with the new-journey dialog open."""
    return f"{JOURNEYS_LIST}?{NEW_PARAM}=1"


def journey_editor(journey_id: int | rx.Var[int]) -> str:
    return f"/journeys/{journey_id}"


def journey_id_in(path: str) -> int:
    """The journey id in a ``/journeys/<id>...`` path; 0 when the path names none (or a number of more
    digits than the database's integers hold, which no journey has)."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "journeys" and parts[1].isascii() and parts[1].isdigit() and len(parts[1]) <= 18:
        return int(parts[1])
    return 0


def journey_map_kpis(journey_id: int | rx.Var[int]) -> str:
    """The map of a journey, view-only with its KPIs laid over it."""
    return f"/journeys/{journey_id}?{VIEW_PARAM}={KPI_VIEW}"


def journey_launch(journey_id: int | rx.Var[int]) -> str:
    return f"/journeys/{journey_id}/launch"


def journey_kpis(journey_id: int | rx.Var[int]) -> str:
    return f"/journeys/{journey_id}/kpis"


def dashboard() -> str:
    return DASHBOARD


def customers() -> str:
    return CUSTOMERS


def tasks() -> str:
    return TASKS


def sign_in(next_path: str = "") -> str:
    """The sign-in page, coming back to ``next_path`` afterwards."""
    return f"{SIGN_IN}?next={quote(next_path, safe='/')}" if next_path else SIGN_IN


def sign_out() -> str:
    return SIGN_OUT


def first_run() -> str:
    return FIRST_RUN


def safe_next(next_path: str | None) -> str:
    """Where to go after signing in: a path of this app, never another site (``//host``) nor an open page."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path:
        return JOURNEYS_LIST
    if next_path.split("?", 1)[0] in OPEN_PAGES:
        return JOURNEYS_LIST
    return next_path


def admin_users() -> str:
    return ADMIN_USERS


def admin_keys() -> str:
    return ADMIN_KEYS


def admin_audit() -> str:
    return ADMIN_AUDIT


# The backend's origin is known only in the browser (`reflex run` serves it on its own port, a test harness on a
# free one): the link is built there, the way Reflex builds its own upload URLs.
API_DOCS: Final = rx.Var(
    _js_expr='(getBackendURL(env.UPLOAD).origin + "/api/docs")',
    _var_data=VarData(imports={"$/utils/state": "getBackendURL", "$/env.json": ImportVar(tag="env", is_default=True)}),
).to(str)
