"""docs/design.md's permission table is the code's: each row it names, read cell by cell, allows exactly the
roles ``PERMISSIONS`` gives its actions (columns by role name, so a role added to both stays checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.accounts import PERMISSIONS, Action
from engine.store import Role

DESIGN = Path(__file__).resolve().parents[3] / "docs" / "design.md"

ROWS: dict[str, tuple[Action, ...]] = {
    "view journeys, maps and KPIs": (Action.VIEW_JOURNEYS,),
    "edit a draft": (Action.EDIT_DRAFT,),
    "publish, launch, pause, resume, stop": (Action.PUBLISH, Action.LAUNCH, Action.PAUSE, Action.RESUME, Action.STOP),
    "send a test": (Action.TEST_SEND,),
    "manage intake keys and API tokens": (Action.MANAGE_KEYS,),
    "manage users and roles": (Action.MANAGE_USERS,),
    "view the audit log": (Action.VIEW_AUDIT,),
    "forecast a draft or any version, over a window they choose": (Action.FORECAST,),
    "see a journey's forecast (its newest version, the last 7 days)": (Action.VIEW_FORECASTS,),
}


def _table() -> dict[str, dict[Role, bool]]:
    lines = DESIGN.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| action |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    roles = [Role(name) for name in header[1:]]
    table: dict[str, dict[Role, bool]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[cells[0]] = {role: cell == "yes" for role, cell in zip(roles, cells[1:], strict=True)}
    return table


@pytest.mark.parametrize("row", sorted(ROWS))
def test_the_designs_row_is_what_the_code_allows(row: str) -> None:
    table = _table()
    assert row in table, f"docs/design.md's permission table has no row {row!r}"
    for action in ROWS[row]:
        assert {role for role, yes in table[row].items() if yes} == set(PERMISSIONS[action]), action


def test_designers_and_marketers_forecast_and_executives_see_forecasts() -> None:
    assert Role.EXECUTIVE not in PERMISSIONS[Action.FORECAST]
    assert {Role.DESIGNER, Role.MARKETER} <= PERMISSIONS[Action.FORECAST]
    assert Role.EXECUTIVE in PERMISSIONS[Action.VIEW_FORECASTS]
