"""Indexes over a journey map, built in one pass so every compiler rule is a lookup, not a scan."""

from __future__ import annotations

from collections import deque
from functools import cached_property

from engine.map import Edge, JourneyMap, Node, TouchpointNode, TriggerNode


def label_of(edge: Edge) -> str | None:
    """The edge's label as the compiler reads it: surrounding blanks ignored, blank means none."""
    if edge.label is None:
        return None
    return edge.label.strip() or None


class MapIndex:
    """The map's nodes by id, its edges by source node, and what the trigger reaches."""

    def __init__(self, doc: JourneyMap) -> None:
        self.doc = doc
        self.nodes: dict[str, Node] = {}
        self.order: dict[str, int] = {}
        self.triggers: list[TriggerNode] = []
        for position, node in enumerate(doc.nodes):
            self.nodes[node.id] = node
            self.order[node.id] = position
            if isinstance(node, TriggerNode):
                self.triggers.append(node)
        self.stage_ids = {stage.id for stage in doc.stages}
        # Only edges whose two ends exist take part in paths; the others are reported on their own.
        self.outgoing: dict[str, list[Edge]] = {}
        for edge in doc.edges:
            if edge.source in self.nodes and edge.target in self.nodes:
                self.outgoing.setdefault(edge.source, []).append(edge)

    def edges_from(self, node_id: str) -> list[Edge]:
        return self.outgoing.get(node_id, [])

    def successors(self, node_id: str) -> list[str]:
        return [edge.target for edge in self.outgoing.get(node_id, ())]

    @cached_property
    def _targets(self) -> dict[str, dict[str | None, str]]:
        targets: dict[str, dict[str | None, str]] = {}
        for source, edges in self.outgoing.items():
            by_label = targets[source] = {}
            for edge in edges:
                by_label.setdefault(label_of(edge), edge.target)
        return targets

    def target(self, node_id: str, label: str | None) -> str | None:
        """Where the first path out of ``node_id`` labelled ``label`` leads, if there is one."""
        return self._targets.get(node_id, {}).get(label)

    @cached_property
    def reached(self) -> frozenset[str]:
        """Every node some path from an entry trigger arrives at, the triggers included."""
        seen = {trigger.id for trigger in self.triggers}
        queue = deque(seen)
        while queue:
            for target in self.successors(queue.popleft()):
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        return frozenset(seen)

    def is_touchpoint(self, node_id: str) -> bool:
        return isinstance(self.nodes.get(node_id), TouchpointNode)
