"""Placeholder checks for message content: every Liquid variable must be one the engine can fill, and no
template may be unusable whatever the customer's data (a range wider than rendering allows, the ``safe``
filter).

Content is parsed with the same Liquid environment that renders it at send time, so a template the
compiler accepts is one the dispatcher can render.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from liquid.exceptions import LiquidError

from engine.compiler.index import MapIndex
from engine.compiler.problems import Problem, describe, error
from engine.content import fixed_problems, parse_template
from engine.map import ConditionSource, EventTrigger, HumanTaskNode, JourneyMap, SendNode, WaitForEventNode

STANDARD_TRAITS = frozenset({"email", "phone", "first_name", "last_name", "user_id", "timezone", "locale"})
"""Profile traits every customer has, which any journey's content and conditions may use."""

_GLOBALS = frozenset({"unsubscribe_url"})
_JOURNEY_FIELDS = frozenset({"name"})


def content_problems(index: MapIndex) -> Iterator[Problem]:
    doc = index.doc
    traits = STANDARD_TRAITS | set(doc.settings.profile_traits)
    properties = _event_properties(doc, index)
    for node in doc.nodes:
        if isinstance(node, HumanTaskNode):
            for code, message in placeholder_problems(node.instructions, traits=traits, properties=properties):
                yield error(code, f"The instructions of {describe(node)} {message}.", node=node.id)
        if not isinstance(node, SendNode):
            continue
        parts = (
            ("subject", node.content.subject),
            ("body", node.content.body),
            ("URL", node.content.url),
            ("button label", node.content.button),
        )
        for part, source in parts:
            for code, message in placeholder_problems(source, traits=traits, properties=properties):
                yield error(code, f"The {part} of {describe(node)} {message}.", node=node.id)


def _event_properties(doc: JourneyMap, index: MapIndex) -> frozenset[str] | None:
    """The entry event's properties content may use; None when the journey is not entered by an event."""
    if not index.triggers or not isinstance(index.triggers[0].trigger, EventTrigger):
        return None
    trigger = index.triggers[0].trigger
    known = set(trigger.properties)
    known.update(c.field for c in trigger.filters if c.source is ConditionSource.EVENT)
    # Correlating a later event on a property means the entry event carries it.
    known.update(n.correlate_on for n in doc.nodes if isinstance(n, WaitForEventNode) and n.correlate_on)
    known.update(c.correlate_on for c in doc.settings.exit_criteria if c.correlate_on)
    return frozenset(known)


@functools.lru_cache(maxsize=4096)
def variable_paths(source: str) -> tuple[tuple[str, ...], str | None]:
    """(the template's global variable paths, None) or ((), why it does not parse)."""
    try:
        # Global paths leave out names the template defines itself (loop variables, assigns).
        return tuple(sorted(set(parse_template(source).global_variable_paths()))), None
    except LiquidError as exc:
        return (), str(exc.message or exc)


def _known(field_path: str, names: frozenset[str] | set[str]) -> bool:
    """Whether ``a.b.c`` is a declared name or lies under one (``a`` or ``a.b`` declared).

    An index is a step down the path as well: ``items[0].name`` lies under ``items``.
    """
    parts = re.split(r"\.|(?=\[)", field_path)
    return any(".".join(parts[:size]) in names for size in range(1, len(parts) + 1))


def placeholder_problems(
    source: str, *, traits: frozenset[str] | set[str], properties: frozenset[str] | None
) -> Iterator[tuple[str, str]]:
    """(code, message tail) for each problem of one text; the caller names the node and the part.

    ``properties`` are the entry event's known properties, None when no event starts the journey.
    """
    if "{" not in source:
        return
    paths, parse_error = variable_paths(source)
    if parse_error is not None:
        yield "invalid_template", f"is not valid Liquid: {parse_error}"
        return
    yield from fixed_problems(source)
    for path in paths:
        root, _, rest = path.partition(".")
        if root in _GLOBALS and not rest:
            continue
        if root == "profile" and rest and _known(rest, traits):
            continue
        if root == "event" and rest and properties is not None and _known(rest, properties):
            continue
        if root == "journey" and rest in _JOURNEY_FIELDS:
            continue
        hint = _hint(root, entered_by_event=properties is not None)
        yield "unknown_placeholder", f"uses {{{{ {path} }}}}, which the journey does not know{hint}"


def _hint(root: str, *, entered_by_event: bool) -> str:
    if root == "profile":
        return " (declare the trait in the journey settings' profile traits)"
    if root == "event" and entered_by_event:
        return " (declare the property on the entry trigger)"
    if root == "event":
        return " (no event starts this journey, so there is no event to read)"
    return " (use profile.*, event.*, journey.name or unsubscribe_url)"
