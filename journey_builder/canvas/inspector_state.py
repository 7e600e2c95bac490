"""Edits made in the inspector: each one becomes ``update_node`` on the selected node."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import reflex as rx

from engine.accounts import Action
from engine.map import (
    EventTrigger,
    JourneyMap,
    MapEditError,
    Node,
    Severity,
    TriggerNode,
    add_opportunity,
    add_pain_point,
    edit_opportunity,
    edit_pain_point,
    remove_opportunity,
    remove_pain_point,
    set_emotion,
)
from engine.map import edits as map_edits
from journey_builder.auth import requires

from .editor_state import EditorState, sentence
from .forms import DURATION_UNITS

# Inspector text fields that map one-to-one onto a node field.
_PLAIN_FIELDS = frozenset({"title", "notes", "reason"})
_CONTENT_FIELDS = frozenset({"subject", "body", "url", "button"})


def _scalar(text: str) -> Any:
    """A condition value typed the way a designer means it: numbers and true/false are not strings."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _duration(amount: str, unit: str) -> timedelta:
    return timedelta(seconds=float(amount) * DURATION_UNITS[unit])


PAIN_POINTS = "pain_points"
OPPORTUNITIES = "opportunities"


class InspectorState(rx.State):
    # Bumped when an item typed into an "add" box is added on leaving it, so the box comes back empty; Enter
    # empties it in the browser and keeps the focus there for the next item.
    adder_nonce: int = 0

    async def _edit(self, edit: Callable[[JourneyMap, str], JourneyMap]) -> rx.event.EventSpec | None:
        """Apply ``edit`` (given the document and the selected node's id) and keep what it returns."""
        editor = await self.get_state(EditorState)
        if not editor.form.id:
            return None
        try:
            doc = edit(editor.doc, editor.form.id)
        except MapEditError as error:
            # Inputs showing what was refused re-read the document.
            editor.history_version += 1
            return rx.toast.error(sentence(str(error)))
        return await editor._commit(doc)

    async def _update(self, fields: dict[str, Any]) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        if not editor.form.id:
            return None
        try:
            doc = map_edits.update_node(editor.doc, editor.form.id, fields)
        except MapEditError as error:
            return rx.toast.error(str(error))
        return await editor._commit(doc)

    async def _node(self) -> Node:
        editor = await self.get_state(EditorState)
        node = editor.doc.node(editor.form.id)
        assert node is not None
        return node

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def set_text(self, field: str, value: str) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        if field in _PLAIN_FIELDS:
            return await self._update({field: value})
        if field in _CONTENT_FIELDS:
            content = {
                "subject": editor.form.subject,
                "body": editor.form.body,
                "url": editor.form.url,
                "button": editor.form.button,
            }
            return await self._update({"content": {**content, field: value}})
        node = await self._node()
        if isinstance(node, TriggerNode):
            if field == "event":
                return await self._trigger_update(event=value)
            if isinstance(node.trigger, EventTrigger):
                return await self._trigger_update(
                    properties=[part.strip() for part in value.split(",") if part.strip()]
                )
            return await self._trigger_update(cron=value)
        if field == "correlate_on":
            return await self._update({"correlate_on": value.strip() or None})
        if field == "until_local_time":
            return await self._update({"until_local_time": value or None})
        if field == "outcomes":
            # One per line; each outcome is a path of the card, labelled with its name.
            return await self._update({"outcomes": [line.strip() for line in value.splitlines() if line.strip()]})
        return await self._update({field: value})

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def set_channel(self, field: str, value: str) -> rx.event.EventSpec | None:
        return await self._update({field: value or None})

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def set_emotion(self, value: list[int | float]) -> rx.event.EventSpec | None:
        """How the persona shown (or, on a map without personas, every customer) feels at the card."""
        if not value:
            return None
        persona = (await self.get_state(EditorState)).persona or None
        return await self._edit(lambda doc, node: set_emotion(doc, node, int(value[0]), persona=persona))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def set_duration(self, field: str, amount: str, unit: str) -> rx.event.EventSpec | None:
        amount = str(amount)
        if not amount.strip():
            return await self._update({field: None}) if field == "duration" else None
        try:
            delta = _duration(amount, unit)
        except (ValueError, KeyError):
            return rx.toast.error(f"{amount!r} is not a number of {unit}")
        return await self._update({field: delta})

    async def _trigger_update(self, **changes: Any) -> rx.event.EventSpec | None:
        node = await self._node()
        assert isinstance(node, TriggerNode)
        return await self._update({"trigger": {**node.trigger.model_dump(mode="json"), **changes}})

    async def _set_conditions(self, rows: list[dict[str, Any]]) -> rx.event.EventSpec | None:
        # A branch tests `conditions`; a trigger keeps its conditions under a name that depends on its type.
        editor = await self.get_state(EditorState)
        if editor.form.kind != "trigger":
            return await self._update({"conditions": rows})
        key = {"event": "filters", "trait": "conditions", "schedule": "audience"}[editor.form.trigger_type]
        return await self._trigger_update(**{key: rows})

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def set_match(self, value: str) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        if editor.form.kind == "trigger":
            return await self._trigger_update(match=value)
        return await self._update({"match": value})

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def set_trigger_type(self, value: str) -> rx.event.EventSpec | None:
        defaults: dict[str, dict[str, Any]] = {
            "event": {"type": "event", "event": "signed_up"},
            "trait": {
                "type": "trait",
                "conditions": [{"source": "trait", "field": "plan", "op": "eq", "value": "pro"}],
            },
            "schedule": {"type": "schedule", "cron": "0 9 * * 1"},
        }
        return await self._update({"trigger": defaults[value]})

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def add_condition(self) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        rows = [*self._conditions(editor), {"source": "trait", "field": "plan", "op": "eq", "value": "pro"}]
        return await self._set_conditions(rows)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def update_condition(self, index: int, key: str, value: str) -> rx.event.EventSpec | None:
        rows = self._conditions(await self.get_state(EditorState))
        rows[index][key] = _scalar(value) if key == "value" else value
        return await self._set_conditions(rows)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def remove_condition(self, index: int) -> rx.event.EventSpec | None:
        rows = self._conditions(await self.get_state(EditorState))
        del rows[index]
        return await self._set_conditions(rows)

    @staticmethod
    def _conditions(editor: EditorState) -> list[dict[str, Any]]:
        return [
            {"source": row.source, "field": row.field, "op": row.op, "value": _scalar(row.value) if row.value else None}
            for row in editor.form.conditions
        ]

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def set_arms(self, index: int, key: str, value: str) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        arms = [{"name": arm.name, "percent": arm.percent, "holdout": arm.holdout} for arm in editor.form.arms]
        if key == "add":
            arms.append({"name": map_edits.fresh_id("arm", [a["name"] for a in arms]), "percent": 0, "holdout": False})
        elif key == "remove":
            del arms[index]
        elif key == "percent":
            arms[index]["percent"] = float(value or 0)
        elif key == "holdout":
            arms[index]["holdout"] = value == "true"
        else:
            arms[index]["name"] = value
        return await self._update({"arms": arms})

    async def _add(self, field: str, text: str) -> rx.event.EventSpec | None:
        if not text.strip():
            return None
        if field == PAIN_POINTS:
            persona = (await self.get_state(EditorState)).persona or None
            return await self._edit(lambda doc, node: add_pain_point(doc, node, text, persona=persona))
        return await self._edit(lambda doc, node: add_opportunity(doc, node, text))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def add_item(self, field: str, form: dict[str, str]) -> rx.event.EventSpec | None:
        """A pain point (for the persona shown) or an opportunity typed into its "add" box, sent with Enter."""
        return await self._add(field, form.get(f"add_{field}", ""))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def add_typed(self, field: str, text: str) -> rx.event.EventSpec | None:
        """What was left typed in an "add" box when the designer moved on: added too, and the box emptied."""
        if not text.strip():
            return None
        self.adder_nonce += 1
        return await self._add(field, text)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def edit_item(self, field: str, index: int, text: str) -> rx.event.EventSpec | None:
        """New text for the card's ``index``-th pain point or opportunity."""
        if field == PAIN_POINTS:
            return await self._edit(lambda doc, node: edit_pain_point(doc, node, index, text=text))
        return await self._edit(lambda doc, node: edit_opportunity(doc, node, index, text))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def set_severity(self, index: int, severity: str) -> rx.event.EventSpec | None:
        if severity not in {s.value for s in Severity}:
            return rx.toast.error(f"A pain point's severity is low, medium or high, not {severity!r}.")
        return await self._edit(lambda doc, node: edit_pain_point(doc, node, index, severity=Severity(severity)))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def remove_item(self, field: str, index: int) -> rx.event.EventSpec | None:
        if field == PAIN_POINTS:
            return await self._edit(lambda doc, node: remove_pain_point(doc, node, index))
        return await self._edit(lambda doc, node: remove_opportunity(doc, node, index))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def set_traits(self, text: str) -> rx.event.EventSpec | None:
        traits = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if key.strip():
                traits[key.strip()] = _scalar(value.strip()) if sep else None
        return await self._update({"set_traits": traits})

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def insert_placeholder(self, name: str) -> rx.event.EventSpec | None:
        editor = await self.get_state(EditorState)
        body = editor.form.body
        content = {
            "subject": editor.form.subject,
            "body": f"{body}{{{{ {name} }}}}",
            "url": editor.form.url,
            "button": editor.form.button,
        }
        editor.history_version += 1
        return await self._update({"content": content})
