"""What the canvas draws of a map, computed once per draft rather than at every open.

Opening a large map used to parse the stored draft, compile it and build its views at each visit. A map that
has not changed since its problems were last computed gives the same answer, so the parsed document, its
problems and the drawing the browser gets are kept here, keyed by a hash of the draft's content (never by
journey id or revision alone: two drafts with the same content share an entry, a changed one never hits).
The drawing goes to the browser as one JSON payload, not as lists of state vars that Reflex would wrap,
diff and serialise item by item.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from engine.compiler import Problem, compile_map
from engine.map import JourneyMap

from . import view

CACHED_DRAFTS = 16


def content_key(draft: dict[str, Any]) -> str:
    """A hash of a draft as stored (``JourneyMap.model_dump(mode="json")``); key order does not matter."""
    text = json.dumps(draft, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def doc_key(doc: JourneyMap) -> str:
    return content_key(doc.model_dump(mode="json"))


@dataclasses.dataclass
class _Entry:
    doc: JourneyMap
    problems: tuple[Problem, ...]
    # The drawing's JSON and the lanes (the stages panel lists them too) by persona ("" for none), built on first use.
    drawings: dict[str, tuple[str, list[view.LaneView]]] = dataclasses.field(default_factory=dict)


class DraftCache:
    """A small LRU of drafts by content hash; thread-safe, since Reflex runs events concurrently."""

    def __init__(
        self, size: int = CACHED_DRAFTS, compile_problems: Callable[[JourneyMap], tuple[Problem, ...]] | None = None
    ):
        self._size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._compile = compile_problems or (lambda doc: compile_map(doc).problems)

    def _get(self, key: str) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def _put(self, key: str, entry: _Entry) -> _Entry:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return entry

    def _entry_for(self, key: str, doc: JourneyMap | None, draft: dict[str, Any] | None) -> _Entry:
        entry = self._get(key)
        if entry is None:
            parsed = doc if doc is not None else JourneyMap.model_validate(draft)
            entry = self._put(key, _Entry(parsed, tuple(self._compile(parsed))))
        return entry

    def opened(self, draft: dict[str, Any]) -> tuple[str, JourneyMap, tuple[Problem, ...]]:
        """A stored draft parsed and compiled (once per content): its key, document and problems."""
        key = content_key(draft)
        entry = self._entry_for(key, None, draft)
        return key, entry.doc, entry.problems

    def edited(self, doc: JourneyMap) -> tuple[str, tuple[Problem, ...]]:
        """An edited document's key and problems, compiled only when no draft with its content was seen."""
        key = doc_key(doc)
        return key, self._entry_for(key, doc, None).problems

    def drawing(self, key: str, doc: JourneyMap, persona: str) -> tuple[str, list[view.LaneView]]:
        """What the canvas draws of the draft ``key`` as ``persona`` feels it (one JSON text), and its lanes."""
        entry = self._entry_for(key, doc, None)
        drawn = entry.drawings.get(persona)
        if drawn is None:
            drawn = drawing_json(entry.doc, entry.problems, persona or None)
            with self._lock:
                entry.drawings[persona] = drawn
        return drawn

    def __len__(self) -> int:
        return len(self._entries)


def drawing_json(
    doc: JourneyMap, problems: tuple[Problem, ...], persona: str | None
) -> tuple[str, list[view.LaneView]]:
    """Cards, edges and lanes in one JSON object, as assets/canvas/journey_canvas.jsx reads them; and the lanes."""
    lanes = view.lanes(doc, persona)
    payload = {
        "cards": [dataclasses.asdict(card) for card in view.cards(doc, problems, persona)],
        "edges": [dataclasses.asdict(edge) for edge in view.edges(doc, problems)],
        "lanes": [dataclasses.asdict(lane) for lane in lanes],
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False), lanes


DRAFTS = DraftCache()
