"""Evaluating map conditions against a customer's traits and the event in hand. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.map.document import Condition, ConditionSource, Match, Operator

_MISSING = object()


def _lookup(data: Mapping[str, Any], field: str) -> Any:
    """Read ``a.b.c`` from nested mappings; a missing key yields ``_MISSING``."""
    value: Any = data
    for part in field.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(actual: Any, expected: Any) -> bool:
    # Traits arrive from many SDKs as strings or numbers alike: "42" and 42 mean the same to a marketer.
    left, right = _as_number(actual), _as_number(expected)
    if left is not None and right is not None:
        return left == right
    return bool(actual == expected) or str(actual) == str(expected)


def _compare(actual: Any, expected: Any, op: Operator) -> bool:
    left, right = _as_number(actual), _as_number(expected)
    if left is None or right is None:
        # Ordering texts (ISO dates, plan tiers) is still meaningful when both sides are texts.
        if isinstance(actual, str) and isinstance(expected, str):
            left_text, right_text = actual, expected
            return {
                Operator.GT: left_text > right_text,
                Operator.GTE: left_text >= right_text,
                Operator.LT: left_text < right_text,
                Operator.LTE: left_text <= right_text,
            }[op]
        return False
    return {
        Operator.GT: left > right,
        Operator.GTE: left >= right,
        Operator.LT: left < right,
        Operator.LTE: left <= right,
    }[op]


def holds(condition: Condition, *, traits: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether one condition holds; a missing field satisfies only ``not_exists`` (and ``ne``)."""
    source = traits if condition.source is ConditionSource.TRAIT else event
    actual = _lookup(source, condition.field)
    op = condition.op
    if op is Operator.EXISTS:
        return actual is not _MISSING and actual is not None
    if op is Operator.NOT_EXISTS:
        return actual is _MISSING or actual is None
    if actual is _MISSING:
        return op is Operator.NE
    expected = condition.value
    if op is Operator.EQ:
        return _equal(actual, expected)
    if op is Operator.NE:
        return not _equal(actual, expected)
    if op is Operator.CONTAINS:
        if isinstance(actual, str):
            return str(expected) in actual
        if isinstance(actual, list | tuple):
            return any(_equal(item, expected) for item in actual)
        return False
    if op is Operator.IN:
        options = expected if isinstance(expected, list) else [expected]
        return any(_equal(actual, option) for option in options)
    return _compare(actual, expected, op)


def all_hold(
    conditions: Iterable[Condition],
    *,
    match: Match = Match.ALL,
    traits: Mapping[str, Any],
    event: Mapping[str, Any],
) -> bool:
    results = (holds(c, traits=traits, event=event) for c in conditions)
    return all(results) if match is Match.ALL else any(results)
