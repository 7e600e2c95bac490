"""What a map says of the customer's experience: its personas, and each card's emotions, pain points and
opportunities as the editor changes them, one pure function per gesture.

Emotions and pain points belong to the persona they were drawn for. A card's ``persona_emotions[p]`` and the
pain points naming persona ``p`` were drawn for ``p`` alone, and are removed with it. A card's ``emotion`` and
its pain points naming no persona are every persona's: what a map drawn without personas (or before they
were added) holds, and what a persona sees where nothing was drawn for it alone. So every stored map keeps
its meaning, and a persona added later starts from the map as it was drawn.

Like :mod:`engine.map.edits`, each function returns a new document and raises :class:`MapEditError` naming
what is wrong; the document passed in is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from engine.map.document import JourneyMap, Node, PainPoint, Persona, Severity
from engine.map.edits import MapEditError, fresh_id, ordered_stages, update_node

EMOTION_RANGE = range(-2, 3)


def _persona(doc: JourneyMap, persona_id: str) -> Persona:
    found = next((p for p in doc.personas if p.id == persona_id), None)
    if found is None:
        raise MapEditError(f"there is no persona with the id {persona_id!r}")
    return found


def _node(doc: JourneyMap, node_id: str) -> Node:
    node = doc.node(node_id)
    if node is None:
        raise MapEditError(f"there is no node with the id {node_id!r}")
    return node


def _lines(items: Iterable[str]) -> list[str]:
    return [item.strip() for item in items if item.strip()]


def _checked_persona(doc: JourneyMap, fields: dict[str, Any], *, except_id: str | None = None) -> Persona:
    name = fields["name"].strip()
    if not name:
        raise MapEditError("a persona needs a name")
    clash = next((p for p in doc.personas if p.id != except_id and p.name.casefold() == name.casefold()), None)
    if clash is not None:
        raise MapEditError(f"there is already a persona called {clash.name!r}; give this one another name")
    try:
        return Persona.model_validate({**fields, "name": name})
    except ValidationError as error:
        detail = error.errors()[0]
        where = ".".join(map(str, detail["loc"]))
        raise MapEditError(f"persona {name!r}: {where}: {detail['msg']}") from error


def add_persona(
    doc: JourneyMap,
    name: str,
    *,
    description: str = "",
    goals: Sequence[str] = (),
    frustrations: Sequence[str] = (),
) -> tuple[JourneyMap, str]:
    """Add a persona after the others; returns the document and the new persona's id."""
    persona_id = fresh_id(re.sub(r"\W+", "_", name.strip().lower()), (p.id for p in doc.personas))
    persona = _checked_persona(
        doc,
        {
            "id": persona_id,
            "name": name,
            "description": description.strip(),
            "goals": _lines(goals),
            "frustrations": _lines(frustrations),
        },
    )
    return doc.model_copy(update={"personas": [*doc.personas, persona]}), persona_id


def update_persona(
    doc: JourneyMap,
    persona_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    goals: Sequence[str] | None = None,
    frustrations: Sequence[str] | None = None,
) -> JourneyMap:
    """Change what is given of a persona: goals and frustrations are lists, blank lines dropped."""
    current = _persona(doc, persona_id)
    fields = current.model_dump(mode="json")
    if name is not None:
        fields["name"] = name
    if description is not None:
        fields["description"] = description.strip()
    if goals is not None:
        fields["goals"] = _lines(goals)
    if frustrations is not None:
        fields["frustrations"] = _lines(frustrations)
    persona = _checked_persona(doc, fields, except_id=persona_id)
    return doc.model_copy(update={"personas": [persona if p.id == persona_id else p for p in doc.personas]})


def remove_persona(doc: JourneyMap, persona_id: str) -> JourneyMap:
    """Remove a persona with the emotions and pain points drawn for it alone; what is every persona's stays."""
    _persona(doc, persona_id)
    nodes = [
        node.model_copy(
            update={
                "persona_emotions": {p: e for p, e in node.persona_emotions.items() if p != persona_id},
                "pain_points": [pain for pain in node.pain_points if pain.persona != persona_id],
            }
        )
        for node in doc.nodes
    ]
    personas = [p for p in doc.personas if p.id != persona_id]
    return doc.model_copy(update={"personas": personas, "nodes": nodes})


def primary_persona(doc: JourneyMap) -> str | None:
    """The persona a map is read for when none is chosen: its first, or None on a map without personas."""
    return doc.personas[0].id if doc.personas else None


def emotion_for(node: Node, persona: str | None) -> int:
    """How ``persona`` feels at ``node``: what was drawn for it alone, else what was drawn for every persona."""
    return node.persona_emotions.get(persona, node.emotion) if persona is not None else node.emotion


def pain_points_for(doc: JourneyMap, node: Node, persona: str | None) -> list[tuple[int, PainPoint]]:
    """The pain points ``persona`` has at ``node``, each with its index in the card's list.

    Those drawn for every persona are included; so are those naming a persona the map does not have
    (pasted from another map), which would otherwise be seen by no one. None: every pain point.
    """
    known = {p.id for p in doc.personas}
    return [
        (index, pain)
        for index, pain in enumerate(node.pain_points)
        if persona is None or pain.persona in (None, persona) or pain.persona not in known
    ]


def stage_emotions(doc: JourneyMap, persona: str | None = None) -> list[float | None]:
    """The mean emotion of each stage's nodes, left to right, as ``persona`` feels them (None: the map's
    primary persona); ``None`` for an empty stage."""
    reader = persona if persona is not None else primary_persona(doc)
    result: list[float | None] = []
    for stage in ordered_stages(doc):
        emotions = [emotion_for(node, reader) for node in doc.nodes if node.stage == stage.id]
        result.append(sum(emotions) / len(emotions) if emotions else None)
    return result


def set_emotion(doc: JourneyMap, node_id: str, emotion: int, *, persona: str | None = None) -> JourneyMap:
    """Set how ``persona`` (None: every persona) feels at the node, from -2 (angry) to +2 (delighted)."""
    node = _node(doc, node_id)
    if emotion not in EMOTION_RANGE:
        raise MapEditError(f"an emotion is from -2 to 2, not {emotion}")
    if persona is None:
        return update_node(doc, node_id, {"emotion": emotion})
    _persona(doc, persona)
    return update_node(doc, node_id, {"persona_emotions": {**node.persona_emotions, persona: emotion}})


def _text(text: str, what: str, *, editing: bool = False) -> str:
    text = text.strip()
    if not text:
        raise MapEditError(f"{what} needs text" + ("; to remove it, use its remove button" if editing else ""))
    return text


def _pain_points(node: Node) -> list[dict[str, Any]]:
    return [pain.model_dump(mode="json") for pain in node.pain_points]


def _index(items: Sequence[Any], index: int, what: str, node_id: str) -> None:
    if not 0 <= index < len(items):
        raise MapEditError(f"node {node_id!r} has no {what} number {index + 1}")


def add_pain_point(
    doc: JourneyMap, node_id: str, text: str, *, persona: str | None = None, severity: Severity = Severity.MEDIUM
) -> JourneyMap:
    """Add a pain point drawn for ``persona`` (None: every persona); the same text twice for it is refused."""
    node = _node(doc, node_id)
    text = _text(text, "a pain point")
    if persona is not None:
        _persona(doc, persona)
    if any(pain.text.casefold() == text.casefold() for _, pain in pain_points_for(doc, node, persona)):
        raise MapEditError(f"{node.title or node_id!r} already has the pain point {text!r}")
    pains = [*_pain_points(node), {"text": text, "severity": severity.value, "persona": persona}]
    return update_node(doc, node_id, {"pain_points": pains})


def edit_pain_point(
    doc: JourneyMap, node_id: str, index: int, *, text: str | None = None, severity: Severity | None = None
) -> JourneyMap:
    """Change the text or severity of the card's ``index``-th pain point (its index in the card's whole list)."""
    node = _node(doc, node_id)
    pains = _pain_points(node)
    _index(pains, index, "pain point", node_id)
    if text is not None:
        text = _text(text, "a pain point", editing=True)
        persona = node.pain_points[index].persona
        others = [pain for i, pain in pain_points_for(doc, node, persona) if i != index]
        if any(pain.text.casefold() == text.casefold() for pain in others):
            raise MapEditError(f"{node.title or node_id!r} already has the pain point {text!r}")
        pains[index]["text"] = text
    if severity is not None:
        pains[index]["severity"] = Severity(severity).value
    return update_node(doc, node_id, {"pain_points": pains})


def remove_pain_point(doc: JourneyMap, node_id: str, index: int) -> JourneyMap:
    node = _node(doc, node_id)
    pains = _pain_points(node)
    _index(pains, index, "pain point", node_id)
    del pains[index]
    return update_node(doc, node_id, {"pain_points": pains})


def add_opportunity(doc: JourneyMap, node_id: str, text: str) -> JourneyMap:
    """Add an opportunity to the card (the business's, so every persona's); the same text twice is refused."""
    node = _node(doc, node_id)
    text = _text(text, "an opportunity")
    if any(item.casefold() == text.casefold() for item in node.opportunities):
        raise MapEditError(f"{node.title or node_id!r} already has the opportunity {text!r}")
    return update_node(doc, node_id, {"opportunities": [*node.opportunities, text]})


def edit_opportunity(doc: JourneyMap, node_id: str, index: int, text: str) -> JourneyMap:
    node = _node(doc, node_id)
    items = list(node.opportunities)
    _index(items, index, "opportunity", node_id)
    text = _text(text, "an opportunity", editing=True)
    if any(item.casefold() == text.casefold() for i, item in enumerate(items) if i != index):
        raise MapEditError(f"{node.title or node_id!r} already has the opportunity {text!r}")
    items[index] = text
    return update_node(doc, node_id, {"opportunities": items})


def remove_opportunity(doc: JourneyMap, node_id: str, index: int) -> JourneyMap:
    node = _node(doc, node_id)
    items = list(node.opportunities)
    _index(items, index, "opportunity", node_id)
    del items[index]
    return update_node(doc, node_id, {"opportunities": items})
