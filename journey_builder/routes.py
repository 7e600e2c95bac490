"""Every page's route pattern, and the builders that turn ids into links.

Pages are registered with the patterns; components and tests link with the builders, so a route is
spelt in one place. A builder accepts a state Var as well as a plain id (``journey_editor(row.id)``
inside ``rx.foreach``): the f-string then becomes a JavaScript template on the page.
"""

from __future__ import annotations

from typing import Final

import reflex as rx

JOURNEYS_LIST: Final = "/"
JOURNEY_EDITOR: Final = "/journeys/[id]"
JOURNEY_LAUNCH: Final = "/journeys/[id]/launch"
JOURNEY_KPIS: Final = "/journeys/[id]/kpis"
DASHBOARD: Final = "/dashboard"
CUSTOMERS: Final = "/customers"

# The dynamic segment of the journey routes; its value reaches the states as the route param "id".
JOURNEY_ID_PARAM: Final = "id"


def journeys_list() -> str:
    return JOURNEYS_LIST


def journey_editor(journey_id: int | rx.Var[int]) -> str:
    return f"/journeys/{journey_id}"


def journey_id_in(path: str) -> int:
    """The journey id in a ``/journeys/<id>...`` path; 0 when the path names none."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "journeys" and parts[1].isascii() and parts[1].isdigit():
        return int(parts[1])
    return 0


def journey_launch(journey_id: int | rx.Var[int]) -> str:
    return f"/journeys/{journey_id}/launch"


def journey_kpis(journey_id: int | rx.Var[int]) -> str:
    return f"/journeys/{journey_id}/kpis"


def dashboard() -> str:
    return DASHBOARD


def customers() -> str:
    return CUSTOMERS
