"""Validating five-field cron expressions for scheduled entries, with messages a designer reads."""

from __future__ import annotations

_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
        },
    ),
    ("day of week", 0, 7, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)


def _is_number(text: str) -> bool:
    # str.isdigit alone accepts characters such as '²' that int() refuses.
    return text.isascii() and text.isdigit()


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    if text.lower() in names:
        return names[text.lower()]
    if not _is_number(text):
        return None
    number = int(text)
    return number if low <= number <= high else None


def _item_problem(item: str, name: str, low: int, high: int, names: dict[str, int]) -> str | None:
    base, slash, step = item.partition("/")
    if slash and (not _is_number(step) or int(step) == 0):
        return f"the step in {item!r} ({name}) must be a positive number"
    if base == "*":
        return None
    start, dash, end = base.partition("-")
    first = _value(start, low, high, names)
    last = _value(end, low, high, names) if dash else first
    if first is None or last is None:
        return f"{item!r} is not a valid {name} ({low}-{high})"
    if last < first:
        return f"the range {item!r} ({name}) runs backwards"
    return None


def cron_problem(expression: str) -> str | None:
    """None when ``expression`` is a valid crontab line, else what is wrong with it."""
    parts = expression.split()
    if len(parts) != 5:
        return f"{expression!r} has {len(parts)} fields; a schedule needs 5 (minute hour day month weekday)"
    for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        for item in part.split(","):
            problem = _item_problem(item, name, low, high, names) if item else f"an empty item in the {name} field"
            if problem:
                return problem
    return None
