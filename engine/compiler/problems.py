"""What the compiler reports: one problem per fault, tied to the node or edge the canvas marks."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from engine.map import Node


class ProblemSeverity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    severity: ProblemSeverity = ProblemSeverity.ERROR
    node_id: str | None = None
    edge_id: str | None = None


# A title past this is cut in messages: a map assembled in memory may carry one of any length.
_TITLE_SHOWN = 80


def describe(node: Node) -> str:
    """How a message names a node: its kind and its title when the designer gave one, else its id."""
    kind = node.kind.value.replace("_", " ")
    title = node.title.strip()
    if len(title) > _TITLE_SHOWN:
        title = title[: _TITLE_SHOWN - 1] + "…"
    return f"the {kind} '{title}'" if title else f"the {kind} node {node.id}"


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def error(code: str, message: str, *, node: str | None = None, edge: str | None = None) -> Problem:
    return Problem(code=code, message=_sentence(message), node_id=node, edge_id=edge)


def warning(code: str, message: str, *, node: str | None = None, edge: str | None = None) -> Problem:
    return Problem(code=code, message=_sentence(message), severity=ProblemSeverity.WARNING, node_id=node, edge_id=edge)
