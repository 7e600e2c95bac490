"""The compiler's rule on sizes: every duration, position, text and list within the map's limits.

A document read from JSON was held to these limits when it was validated; one assembled in memory (the
canvas edits copy documents without validating them) is checked here, so no plan carries a wait the
runtime cannot add to a date nor a map a card the canvas cannot draw.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.compiler.index import MapIndex
from engine.compiler.problems import Problem, describe, error
from engine.map import out_of_bounds


def limit_problems(index: MapIndex) -> Iterator[Problem]:
    for excess in out_of_bounds(index.doc):
        node = index.nodes.get(excess.node_id) if excess.node_id is not None else None
        if node is not None:
            message = f"The {excess.what} of {describe(node)} {excess.detail}."
        else:
            message = f"{excess.what} {excess.detail}."
        yield error(excess.code, message, node=excess.node_id, edge=excess.edge_id)
