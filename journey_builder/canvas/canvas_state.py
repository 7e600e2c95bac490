"""Gestures on the canvas and the lane headers, each turned into one edit of the document."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx
from pydantic import ValidationError

from engine.accounts import Action
from engine.map import Edge, JourneyMap, MapEditError, Node, NodeKind, Position
from engine.map import edits as map_edits
from journey_builder.auth import requires, viewing

from .editor_state import EditorState
from .flow import Connection, Drop, Move
from .overlay_state import refusal_if_view_only

PASTE_OFFSET = Position(x=40, y=40)


class CanvasState(rx.State):
    _clipboard: tuple[tuple[Node, ...], tuple[Edge, ...]] = ((), ())
    _pastes: int = 0

    async def _editor(self) -> EditorState:
        return await self.get_state(EditorState)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def drop_kind(self, drop: Drop) -> rx.event.EventSpec | None:
        editor = await self._editor()
        try:
            doc, node_id = map_edits.add_node(
                editor.doc, kind=NodeKind(drop["kind"]), position=Position(x=drop["x"], y=drop["y"])
            )
        except (MapEditError, ValueError) as error:
            return rx.toast.error(str(error))
        return await editor._commit(doc, select=[node_id])

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def move_nodes(self, moves: list[Move]) -> rx.event.EventSpec | None:
        editor = await self._editor()
        positions = {move["id"]: Position(x=move["x"], y=move["y"]) for move in moves}
        return await self._apply(editor, lambda doc: map_edits.move_nodes(doc, positions))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def connect_nodes(self, connection: Connection) -> rx.event.EventSpec | None:
        editor = await self._editor()
        return await self._apply(
            editor, lambda doc: map_edits.connect(doc, source=connection["source"], target=connection["target"])[0]
        )

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def delete_items(self, ids: list[str]) -> rx.event.EventSpec | None:
        editor = await self._editor()
        return await self._apply(editor, lambda doc: map_edits.delete(doc, ids))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def delete_selected(self) -> rx.event.EventSpec | None:
        editor = await self._editor()
        return await self._apply(editor, lambda doc: map_edits.delete(doc, editor.selected))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def tidy(self) -> rx.event.EventSpec | None:
        editor = await self._editor()
        return await self._apply(editor, map_edits.tidy_layout)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    async def copy(self, ids: list[str]) -> None:
        doc = (await self._editor()).doc
        wanted = set(ids)
        nodes = tuple(node for node in doc.nodes if node.id in wanted)
        edges = tuple(edge for edge in doc.edges if edge.source in wanted and edge.target in wanted)
        self._clipboard, self._pastes = (nodes, edges), 0

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def paste(self) -> rx.event.EventSpec | None:
        nodes, edges = self._clipboard
        if not nodes:
            return None
        editor = await self._editor()
        self._pastes += 1
        offset = Position(x=PASTE_OFFSET.x * self._pastes, y=PASTE_OFFSET.y * self._pastes)
        try:
            doc, new_ids = map_edits.paste(editor.doc, nodes, edges, offset=offset)
        except MapEditError as error:
            return rx.toast.error(str(error))
        return await editor._commit(doc, select=new_ids)

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def add_stage(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        editor = await self._editor()
        name = form.get("new_stage", "").strip() or f"Stage {len(editor.doc.stages) + 1}"
        return await self._apply(editor, lambda doc: map_edits.add_stage(doc, name)[0])

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def rename_stage(self, stage_id: str, name: str) -> rx.event.EventSpec | None:
        editor = await self._editor()
        return await self._apply(editor, lambda doc: map_edits.rename_stage(doc, stage_id, name))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def move_stage(self, stage_id: str, index: int) -> rx.event.EventSpec | None:
        editor = await self._editor()
        return await self._apply(editor, lambda doc: map_edits.reorder_stage(doc, stage_id, index))

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def delete_stage(self, stage_id: str) -> rx.event.EventSpec | None:
        editor = await self._editor()
        return await self._apply(editor, lambda doc: map_edits.delete_stage(doc, stage_id))

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    async def export_json(self) -> rx.event.EventSpec:
        editor = await self._editor()
        return rx.download(data=editor.doc.to_json(), filename=f"journey-{editor.current_journey_id}.json")

    @rx.event
    @requires(Action.EDIT_DRAFT)
    async def import_json(
        self, files: list[rx.UploadFile]
    ) -> list[rx.event.EventSpec | None] | rx.event.EventSpec | None:
        if not files:
            return None
        data = await files[0].read()
        try:
            doc = JourneyMap.from_json(data)
        except ValidationError as error:
            detail = error.errors()[0]
            where = ".".join(map(str, detail["loc"]))
            return rx.toast.error(f"That file is not a journey map ({where}: {detail['msg']}); nothing was changed.")
        if refusal := await refusal_if_view_only(self):
            return refusal
        editor = await self._editor()
        editor.history_version += 1
        # The journey keeps its own name: a map exported from another journey must not bring that one's name.
        return [
            await editor._commit(doc.model_copy(update={"name": editor.doc.name})),
            rx.toast.success(f"Imported the map of “{doc.name}” into this journey. Undo brings the previous map back."),
        ]

    @staticmethod
    async def _apply(editor: EditorState, edit: Callable[[JourneyMap], JourneyMap]) -> rx.event.EventSpec | None:
        try:
            doc = edit(editor.doc)
        except MapEditError as error:
            return rx.toast.error(str(error))
        return await editor._commit(doc)
