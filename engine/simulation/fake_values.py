"""Made-up but plausible values for simulated customers: names, time zones, and trait or property
values guessed from a field's name or chosen so that a map's condition holds."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from engine.map import Condition, Operator

FIRST_NAMES: Final = (
    "Maya", "Tom", "Aisha", "Lucas", "Mei", "Noah", "Sofia", "Kenji", "Amara", "Liam", "Priya", "Mateo",
    "Hannah", "Omar", "Elena", "Kwame", "Yuki", "Isabel", "Arjun", "Freya", "Diego", "Zanele", "Nora", "Ravi",
)  # fmt: skip
LAST_NAMES: Final = (
    "Lopez", "Walker", "Okafor", "Martin", "Chen", "Kim", "Rossi", "Tanaka", "Mensah", "Murphy", "Patel",
    "Garcia", "Schmidt", "Haddad", "Petrova", "Boateng", "Sato", "Silva", "Sharma", "Larsen", "Dubois", "Nkosi",
)  # fmt: skip
TIMEZONES: Final = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo",
    "Europe/London", "Europe/Berlin", "Europe/Madrid", "Africa/Lagos", "Asia/Kolkata", "Asia/Tokyo",
    "Australia/Sydney",
)  # fmt: skip


def traits_for(conditions: Sequence[Condition], rng: random.Random, tag: str) -> dict[str, Any]:
    traits: dict[str, Any] = {}
    for condition in conditions:
        put(traits, condition.field, satisfying(condition, rng, tag))
    return traits


def put(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dictionaries, as conditions read it."""
    *parents, last = dotted.split(".")
    for part in parents:
        child = data.get(part)
        if not isinstance(child, dict):
            child = data[part] = {}
        data = child
    data[last] = value


def satisfying(condition: Condition, rng: random.Random, tag: str) -> Any:
    """A value for the condition's field that makes it hold."""
    expected = condition.value
    op = condition.op
    if op is Operator.EQ:
        return expected
    if op is Operator.IN:
        options = expected if isinstance(expected, list) else [expected]
        return rng.choice(options)
    if op is Operator.EXISTS:
        return value_for(condition.field.split(".")[-1], rng, tag)
    if op is Operator.CONTAINS:
        return f"{expected} {tag}"
    if isinstance(expected, bool) or not isinstance(expected, int | float):
        text = str(expected)
        if op is Operator.NE:
            return f"{text} (not)"
        return {Operator.GT: text + "z", Operator.GTE: text, Operator.LT: "", Operator.LTE: text}.get(op, text)
    step = rng.randint(1, 20) if isinstance(expected, int) else round(rng.uniform(0.1, 20), 2)
    if op in (Operator.GT, Operator.GTE, Operator.NE):
        return expected + step
    return expected - step


def value_for(name: str, rng: random.Random, tag: str) -> Any:
    """A plausible value for a property or trait, guessed from its name."""
    lowered = name.lower()
    slug = tag.removeprefix("sim-")
    if lowered.endswith("_url") or lowered == "url":
        return f"https://shop.example.com/{lowered.removesuffix('_url') or 'page'}/{slug}"
    if lowered.endswith("_id") or lowered == "id":
        return f"{lowered.removesuffix('_id') or 'id'}-{slug}"
    if lowered.endswith("email"):
        return f"{lowered.replace('_', '.')}.{slug}@example.com"
    if "total" in lowered or "amount" in lowered or "price" in lowered:
        return f"${rng.uniform(15, 400):.2f}"
    if lowered.endswith("count") or lowered.startswith("num_"):
        return rng.randint(1, 6)
    if "plan" in lowered:
        return rng.choice(("Starter", "Team", "Business"))
    if "topic" in lowered:
        return rng.choice(("billing", "delivery", "returns", "sign-in"))
    if "score" in lowered:
        return rng.randint(60, 95)
    if lowered.endswith("date"):
        return (datetime(2026, 1, 1) + timedelta(days=rng.randint(0, 60))).date().isoformat()
    if lowered == "role":
        return rng.choice(("admin", "member", "viewer"))
    if lowered.endswith("name"):
        return f"{rng.choice(LAST_NAMES)} {rng.choice(('Labs', 'Co', 'Studio', 'Group'))}"
    return rng.choice(("standard", "plus", "basic", "pro"))
