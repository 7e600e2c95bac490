from __future__ import annotations

import pytest

from engine.map import Condition, ConditionSource, Match, Operator, all_hold, holds

TRAITS = {"health_score": 55, "role": "admin", "tags": ["beta", "eu"], "company": {"size": "250"}, "name": "Ada"}
EVENT = {"cart_total": "129.90", "cart_id": "c-1"}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition(field="health_score", op=Operator.LT, value=60), True),
        (Condition(field="health_score", op=Operator.GTE, value=60), False),
        (Condition(field="role", value="admin"), True),
        (Condition(field="role", op=Operator.NE, value="admin"), False),
        (Condition(field="missing", op=Operator.NE, value="x"), True),
        (Condition(field="missing", op=Operator.EQ, value="x"), False),
        (Condition(field="missing", op=Operator.NOT_EXISTS), True),
        (Condition(field="tags", op=Operator.CONTAINS, value="beta"), True),
        (Condition(field="name", op=Operator.CONTAINS, value="d"), True),
        (Condition(field="role", op=Operator.IN, value=["admin", "owner"]), True),
        (Condition(field="company.size", op=Operator.GT, value=100), True),
        (Condition(source=ConditionSource.EVENT, field="cart_total", op=Operator.GT, value=100), True),
        (Condition(source=ConditionSource.EVENT, field="cart_id", op=Operator.EXISTS), True),
        (Condition(field="name", op=Operator.GT, value=5), False),
    ],
)
def test_condition(condition: Condition, expected: bool) -> None:
    assert holds(condition, traits=TRAITS, event=EVENT) is expected


def test_numbers_sent_as_text_compare_as_numbers() -> None:
    assert holds(Condition(field="n", value=42), traits={"n": "42"}, event={})
    assert holds(Condition(field="n", op=Operator.LT, value="100"), traits={"n": 99.5}, event={})


def test_all_and_any() -> None:
    conditions = [Condition(field="role", value="admin"), Condition(field="health_score", op=Operator.GT, value=90)]
    assert not all_hold(conditions, traits=TRAITS, event=EVENT)
    assert all_hold(conditions, match=Match.ANY, traits=TRAITS, event=EVENT)
