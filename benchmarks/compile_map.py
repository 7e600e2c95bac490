"""Compiling a large journey map, side by side with reading the same document from JSON.

Generates a map of about 1,000 nodes the way a big journey looks: one trigger, then blocks of
send -> wait, branches (yes / no), A/B splits with a holdout, waits for an event that lead to the
goal, reminder loops back through a wait, profile updates and touchpoints, spread over ten stages,
every message with its own text and placeholders. Prints the median and p95 of

  * json.loads:    the bare JSON decode of the document (the floor: no validation at all);
  * parse:         JourneyMap.model_validate_json of the document (the reference: every save pays it);
  * compile warm:  compile_map with the Liquid parse caches filled, as when a designer edits a saved map;
  * compile cold:  compile_map with the Liquid caches emptied first, as for a map never seen before;
  * liquid cold:   parsing and analysing the map's message texts alone, caches emptied (the part of
                   "compile cold" that is python-liquid's, not the compiler's rules).

The target is a compile under 50 ms.

Run: python benchmarks/compile_map.py [--nodes 1000] [--runs 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from engine.compiler import compile_map, variable_paths
from engine.content import parse_template
from engine.map import JourneyMap, SendNode

STAGES = 10
TARGET_MS = 50
CHANNELS = ("email", "sms", "push", "in_app")


class MapBuilder:
    """Appends nodes and labelled edges; ``tail`` holds the open paths the next node continues."""

    def __init__(self, target_nodes: int) -> None:
        self.target = target_nodes
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.tail: list[tuple[str, str | None]] = []

    def stage(self) -> str:
        return f"stage{min(len(self.nodes) * STAGES // self.target, STAGES - 1)}"

    def add(self, kind: str, title: str, **fields: Any) -> str:
        node_id = f"{kind}_{len(self.nodes)}"
        self.nodes.append({"id": node_id, "kind": kind, "stage": self.stage(), "title": title, **fields})
        return node_id

    def connect(self, source: str, target: str, label: str | None = None) -> None:
        self.edges.append({"id": f"e{len(self.edges)}", "source": source, "target": target, "label": label})

    def then(self, kind: str, title: str, **fields: Any) -> str:
        """A node every open path leads into; it becomes the only open path."""
        node_id = self.add(kind, title, **fields)
        for source, label in self.tail:
            self.connect(source, node_id, label)
        self.tail = [(node_id, None)]
        return node_id

    def send(self, n: int, *, attach: bool = True) -> str:
        channel = CHANNELS[n % len(CHANNELS)]
        content = {
            "subject": f"{{{{ profile.first_name }}}}, your cart #{n} is waiting" if channel == "email" else "",
            "body": f"Reminder {n}: finish at {{{{ event.cart_url }}}}. {{{{ unsubscribe_url }}}}",
            "url": "",
        }
        fields = {"channel": channel, "content": content}
        if attach:
            return self.then("send", f"Reminder {n} by {channel}", **fields)
        return self.add("send", f"Offer {n} by {channel}", **fields)


def build_map(target_nodes: int) -> dict[str, Any]:
    b = MapBuilder(target_nodes)
    trigger = {"type": "event", "event": "cart_abandoned", "properties": ["cart_id", "cart_url"]}
    b.then("trigger", "Cart abandoned", trigger=trigger)
    block = 0
    while len(b.nodes) < target_nodes - 12:
        block += 1
        match block % 6:
            case 0:
                b.send(block)
                b.then("wait", f"Wait {block % 23 + 1}h", duration=f"PT{block % 23 + 1}H")
            case 1:
                vip = b.then("branch", f"VIP? ({block})", conditions=[{"field": "tier", "op": "eq", "value": "vip"}])
                offer = b.send(block, attach=False)
                b.connect(vip, offer, "yes")
                b.tail = [(offer, None), (vip, "no")]
            case 2:
                ab = b.then(
                    "split",
                    f"Test {block}",
                    arms=[
                        {"name": "a", "percent": 45},
                        {"name": "b", "percent": 45},
                        {"name": "hold", "percent": 10, "holdout": True},
                    ],
                )
                a, c = b.send(block, attach=False), b.send(block + 1000, attach=False)
                b.connect(ab, a, "a")
                b.connect(ab, c, "b")
                b.tail = [(a, None), (c, None)]
            case 3:
                paid = b.then(
                    "wait_for_event",
                    f"Bought? ({block})",
                    event="order_completed",
                    correlate_on="cart_id",
                    timeout="P1D",
                )
                goal = b.add("goal", f"Recovered ({block})")
                b.connect(paid, goal, "event")
                b.tail = [(paid, "timeout")]
            case 4:
                reminder = b.send(block)
                b.then("wait", f"Wait a day ({block})", duration="P1D")
                opened = b.then("branch", f"Opened? ({block})", conditions=[{"field": "opened", "op": "exists"}])
                b.connect(opened, reminder, "no")
                b.tail = [(opened, "yes")]
            case 5:
                b.then("touchpoint", f"Visits the store ({block})", channel="web")
                b.then("update_profile", f"Tag ({block})", set_traits={"nudged": block})
                b.add("touchpoint", f"Calls support ({block})", channel="voice", emotion=-1)
    # Notes on the story that no step leads to fill the map to the exact size asked for.
    while len(b.nodes) < target_nodes - 1:
        b.add("touchpoint", f"Reads reviews ({len(b.nodes)})", channel="web")
    b.then("exit", "Gave up", reason="no purchase")
    return {
        "name": "Benchmark journey",
        "stages": [{"id": f"stage{i}", "name": f"Stage {i}", "order": i} for i in range(STAGES)],
        "nodes": b.nodes,
        "edges": b.edges,
        "settings": {"goal_event": "order_completed", "profile_traits": ["tier", "opened"]},
    }


def measure(runs: int, action: Callable[[], object], before: Callable[[], object] | None = None) -> list[float]:
    timings = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def clear_liquid_caches() -> None:
    parse_template.cache_clear()
    variable_paths.cache_clear()


def report(name: str, timings: list[float], reference: float) -> float:
    ordered = sorted(timings)
    median = statistics.median(ordered)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"{name:<14} median {median:7.2f} ms   p95 {p95:7.2f} ms   {median / reference:5.2f} x parse")
    return median


def analyse_texts(texts: list[str]) -> None:
    for source in texts:
        variable_paths(source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    text = json.dumps(build_map(args.nodes))
    doc = JourneyMap.model_validate_json(text)
    result = compile_map(doc)
    if not result.ok:
        raise SystemExit("the generated map does not compile:\n" + "\n".join(p.message for p in result.errors))
    assert result.plan is not None
    kinds: dict[str, int] = {}
    for node in doc.nodes:
        kinds[node.kind.value] = kinds.get(node.kind.value, 0) + 1
    print(f"map: {len(doc.nodes)} nodes, {len(doc.edges)} edges, {len(doc.stages)} stages, {len(text) / 1024:.0f} KiB")
    print("     " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))
    print(f"plan: {len(result.plan.steps)} steps, {len(result.problems)} problems; {args.runs} runs each\n")

    texts = sorted(
        {
            part
            for node in doc.nodes
            if isinstance(node, SendNode)
            for part in (node.content.subject, node.content.body, node.content.url)
            if "{" in part
        }
    )

    loads = measure(args.runs, lambda: json.loads(text))
    parse = measure(args.runs, lambda: JourneyMap.model_validate_json(text))
    warm = measure(args.runs, lambda: compile_map(doc))
    cold = measure(args.runs, lambda: compile_map(doc), before=clear_liquid_caches)
    liquid = measure(args.runs, lambda: analyse_texts(texts), before=clear_liquid_caches)
    reference = statistics.median(parse)
    report("json.loads", loads, reference)
    report("parse", parse, reference)
    warm_median = report("compile warm", warm, reference)
    cold_median = report("compile cold", cold, reference)
    report("liquid cold", liquid, reference)
    print(f"\ntarget: compile under {TARGET_MS} ms; {len(texts)} distinct message texts with placeholders")
    for name, median in (("warm", warm_median), ("cold", cold_median)):
        print(f"  compile {name}: {'met' if median < TARGET_MS else 'MISSED'} (median {median:.1f} ms)")


if __name__ == "__main__":
    main()
