"""The editor's draft cache: a map's problems are compiled when its content changes, not at every open."""

from __future__ import annotations

import json

from engine.compiler import Problem, compile_map
from engine.map import JourneyMap, NodeKind, Position, Stage, pain_points_for
from engine.map import edits as map_edits
from engine.simulation import demo_map
from journey_builder.canvas.drawing import DraftCache, content_key, doc_key, drawing_json


def small_map() -> JourneyMap:
    doc = JourneyMap(name="Cache", stages=[Stage(id="s1", name="Discover", order=0)])
    doc, _ = map_edits.add_node(doc, kind=NodeKind.TRIGGER, position=Position(x=40, y=80))
    doc, _ = map_edits.add_node(doc, kind=NodeKind.SEND, position=Position(x=40, y=220))
    return doc


class CountingCompile:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, doc: JourneyMap) -> tuple[Problem, ...]:
        self.calls += 1
        return compile_map(doc).problems


def test_opening_an_unchanged_draft_again_does_not_recompile_it() -> None:
    compiled = CountingCompile()
    cache = DraftCache(compile_problems=compiled)
    draft = small_map().model_dump(mode="json")

    first = cache.opened(draft)
    # The same content read again from storage (a fresh dict, keys in another order) is the same draft.
    again = cache.opened(json.loads(json.dumps(draft, sort_keys=True)))

    assert compiled.calls == 1
    assert again[0] == first[0]
    assert again[2] == first[2] == compile_map(small_map()).problems


def test_a_changed_draft_is_compiled_again() -> None:
    compiled = CountingCompile()
    cache = DraftCache(compile_problems=compiled)
    doc = small_map()
    cache.opened(doc.model_dump(mode="json"))

    trigger = doc.nodes[0].id
    edited = map_edits.update_node(doc, trigger, {"title": "Renamed"})
    key, problems = cache.edited(edited)
    assert compiled.calls == 2
    assert problems == compile_map(edited).problems

    # Saved and opened again: the stored content is the edited one, already compiled.
    assert cache.opened(edited.model_dump(mode="json"))[0] == key
    assert compiled.calls == 2


def test_an_edit_undone_finds_the_earlier_draft_compiled() -> None:
    compiled = CountingCompile()
    cache = DraftCache(compile_problems=compiled)
    doc = small_map()
    cache.edited(doc)
    moved = map_edits.move_nodes(doc, {doc.nodes[1].id: Position(x=40, y=400)})
    cache.edited(moved)
    cache.edited(doc)  # undo
    assert compiled.calls == 2


def test_the_cache_keeps_only_its_most_recent_drafts() -> None:
    compiled = CountingCompile()
    cache = DraftCache(size=2, compile_problems=compiled)
    docs = [small_map().model_copy(update={"name": f"Map {i}"}) for i in range(3)]
    for doc in docs:
        cache.edited(doc)
    assert len(cache) == 2
    cache.edited(docs[0])  # evicted: compiled again
    assert compiled.calls == 4


def test_the_drawing_is_one_json_payload_per_persona_built_once() -> None:
    cache = DraftCache()
    doc = small_map()
    key, _ = cache.edited(doc)
    text, lanes = cache.drawing(key, doc, "")
    payload = json.loads(text)
    assert {card["id"] for card in payload["cards"]} == {node.id for node in doc.nodes}
    assert [lane["name"] for lane in payload["lanes"]] == ["Discover"] == [lane.name for lane in lanes]
    assert payload["edges"] == []
    assert cache.drawing(key, doc, "")[0] is text


def test_keys_depend_on_content_only() -> None:
    doc = small_map()
    assert doc_key(doc) == content_key(json.loads(doc.to_json()))
    assert doc_key(doc) != doc_key(doc.model_copy(update={"name": "Other"}))


def test_the_drawing_carries_each_cards_pain_points_for_the_png_export() -> None:
    doc = demo_map()
    persona = doc.personas[0].id if doc.personas else None
    cards = json.loads(drawing_json(doc, [], persona)[0])["cards"]

    drawn = {card["id"]: card["pain_texts"] for card in cards}
    expected = {node.id: [pain.text for _, pain in pain_points_for(doc, node, persona)] for node in doc.nodes}
    assert drawn == expected
    assert any(drawn.values())
    assert all(card["pains"] == len(card["pain_texts"]) for card in cards)
