"""The registry of every event handler's rule: what a handler needs before it may run.

Kept apart from the guard so the session state, which the guard reads, can mark its own handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from engine.accounts import Action


class Kind(StrEnum):
    REQUIRES = "requires"  # changes something: runs only for a signed-in role that may take the action
    VIEWING = "viewing"  # loads, filters, selects: runs only for a signed-in role that may see the data
    PUBLIC = "public"  # sign-in, first run, sign out: runs for anyone


@dataclass(frozen=True)
class Rule:
    kind: Kind
    action: Action | None = None


RULES: dict[str, Rule] = {}

F = TypeVar("F", bound=Callable[..., Any])


def handler_key(fn: Callable[..., Any]) -> str:
    """The name a handler is registered under: its module and qualified name (``pkg.mod.State.handler``)."""
    return f"{fn.__module__}.{fn.__qualname__}"


def register(fn: Callable[..., Any], rule: Rule) -> None:
    key = handler_key(fn)
    if key in RULES and RULES[key] != rule:
        raise ValueError(f"{key} has two rules: {RULES[key]} and {rule}")
    RULES[key] = rule


def rule_of(fn: Callable[..., Any]) -> Rule | None:
    return RULES.get(handler_key(fn))


def public(fn: F) -> F:
    """Mark a handler that anyone may call, signed in or not (sign-in, first run, sign out)."""
    register(fn, Rule(Kind.PUBLIC))
    return fn
