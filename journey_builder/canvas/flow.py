"""Reflex wrappers of the canvas's React components (assets/canvas/journey_canvas.jsx).

React Flow (@xyflow/react) is wrapped directly rather than through reflex-xyflow: the canvas needs
custom card, lane and emotion-curve nodes, drops from the palette, keyboard shortcuts and positions
that stay in the browser while dragging, all of which live in that one JS module.
"""

from __future__ import annotations

from typing import Any, TypedDict

import reflex as rx
from reflex.vars import Var

from .overlay_view import OverlayView
from .view import PaletteItem

_MODULE = "$/public/canvas/journey_canvas.jsx"
# Pinned so a fresh install draws the same canvas; html-to-image after 1.11.11 exports blank images.
_NPM = ["@xyflow/react@12.8.6", "html-to-image@1.11.11"]


class Move(TypedDict):
    id: str
    x: float
    y: float


class Drop(TypedDict):
    kind: str
    x: float
    y: float


class Connection(TypedDict):
    source: str
    target: str


def _moves(moves: Var[list[Move]]) -> tuple[Var[list[Move]]]:
    return (moves,)


def _ids(ids: Var[list[str]]) -> tuple[Var[list[str]]]:
    return (ids,)


def _drop(drop: Var[Drop]) -> tuple[Var[Drop]]:
    return (drop,)


def _connection(connection: Var[Connection]) -> tuple[Var[Connection]]:
    return (connection,)


def _none() -> tuple[()]:
    return ()


class JourneyCanvas(rx.Component):
    library = _MODULE
    tag = "JourneyCanvas"
    lib_dependencies: list[str] = _NPM

    # Cards, edges and lanes as one JSON text (drawing.py): parsed once in the browser, never wrapped item by item.
    drawing: Var[str]
    focus: Var[dict[str, Any]]
    file_name: Var[str]
    # KPI figures keyed by stage, node and edge id, laid over what the props above draw.
    overlay: Var[OverlayView]
    read_only: Var[bool]

    on_move: rx.EventHandler[_moves]
    on_connect: rx.EventHandler[_connection]
    on_delete: rx.EventHandler[_ids]
    on_select: rx.EventHandler[_ids]
    on_drop_kind: rx.EventHandler[_drop]
    on_copy: rx.EventHandler[_ids]
    on_paste: rx.EventHandler[_none]
    on_undo: rx.EventHandler[_none]
    on_redo: rx.EventHandler[_none]
    on_tidy: rx.EventHandler[_none]
    on_refresh_overlay: rx.EventHandler[_none]


class JourneyPalette(rx.Component):
    library = _MODULE
    tag = "JourneyPalette"
    lib_dependencies: list[str] = _NPM

    items: Var[list[PaletteItem]]


journey_canvas = JourneyCanvas.create
journey_palette = JourneyPalette.create
