"""Placeholder checks for message content: every Liquid variable must be one the engine can fill."""

from __future__ import annotations

from collections.abc import Iterator

from liquid.exceptions import LiquidError

from engine.content import parse_template

GLOBALS = frozenset({"unsubscribe_url"})
JOURNEY_FIELDS = frozenset({"name"})


def placeholder_problems(
    source: str, *, traits: frozenset[str] | set[str], properties: set[str]
) -> Iterator[tuple[str, str]]:
    """(code, message tail) for each problem of one text; the caller names the node and the part."""
    if "{" not in source:
        return
    try:
        template = parse_template(source)
        paths = template.global_variable_paths()
    except LiquidError as error:
        yield "invalid_template", f"is not valid Liquid: {error.message or error}"
        return
    for path in sorted(set(paths)):
        root, _, rest = path.partition(".")
        field = rest.split(".", 1)[0]
        if root in GLOBALS and not rest:
            continue
        if root == "profile" and field in traits:
            continue
        if root == "event" and field in properties:
            continue
        if root == "journey" and field in JOURNEY_FIELDS:
            continue
        yield "unknown_placeholder", f"uses {{{{ {path} }}}}, which the journey does not know{_hint(root)}"


def _hint(root: str) -> str:
    if root == "profile":
        return " (declare the trait in the journey settings' profile traits)"
    if root == "event":
        return " (declare the property on the entry trigger)"
    return " (use profile.*, event.*, journey.name or unsubscribe_url)"
