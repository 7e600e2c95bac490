"""Canvas benchmark: how fast a journey map opens, pans and drags in Chromium.

Prints, for maps of 30 and 300 nodes (N-1 edges, spread over ten lanes):
- time from navigation to the map drawn (every card in the DOM, visible, with a width);
- animation frames painted during a one-second pan;
- server events (socket.io frames the page sends) during a two-second drag, and at the drop.
The reference, measured in the same run, is the same editor opening a map of one node.

Needs the app running (``reflex run``) against the same database as this process:
    python benchmarks/canvas.py --base-url http://localhost:3000
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from dataclasses import dataclass

from playwright.sync_api import Page, WebSocket, sync_playwright

from engine.journeys import create_journey
from engine.map import Edge, JourneyMap, NodeKind, Position, Stage
from engine.map import edits as map_edits
from engine.store import session_scope

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LANES = 10
KINDS = [NodeKind.TOUCHPOINT, NodeKind.SEND, NodeKind.WAIT, NodeKind.TOUCHPOINT, NodeKind.SEND]

# Records the first animation frame at which every card is drawn, measured from navigation start.
DRAWN_PROBE = """
(() => {
  const expected = Number(new URL(location.href).searchParams.get("expect") || 0);
  const check = () => {
    const cards = document.querySelectorAll(".react-flow__node-card");
    if (expected && cards.length === expected &&
        [...cards].every((c) => c.offsetWidth > 0 && getComputedStyle(c).visibility !== "hidden")) {
      window.__drawnAt = performance.now();
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();
"""

FRAME_COUNTER = """
() => new Promise((resolve) => {
  let frames = 0;
  const start = performance.now();
  const tick = () => {
    frames += 1;
    if (performance.now() - start < 1000) requestAnimationFrame(tick); else resolve(frames);
  };
  requestAnimationFrame(tick);
})
"""


NEAREST_CARD = """
([cx, cy]) => {
  const centre = (r) => [r.left + r.width / 2, r.top + Math.min(20, r.height / 2)];
  const rects = [...document.querySelectorAll(".react-flow__node-card")].map((c) => c.getBoundingClientRect());
  const distance = (r) => Math.hypot(centre(r)[0] - cx, centre(r)[1] - cy);
  return centre(rects.reduce((best, r) => (distance(r) < distance(best) ? r : best)));
}
"""


def grid_map(n: int) -> JourneyMap:
    """A map of ``n`` nodes chained from a trigger to a goal, laid out row by row over ten lanes.

    It compiles without problems, so the figures are those of a map a designer would really open.
    """
    doc = JourneyMap(
        name=f"Benchmark {n}", stages=[Stage(id=f"s{i}", name=f"Stage {i + 1}", order=i) for i in range(LANES)]
    )
    ids = []
    for i in range(n):
        kind = NodeKind.TRIGGER if i == 0 else NodeKind.GOAL if i == n - 1 else KINDS[i % len(KINDS)]
        position = Position(x=map_edits.lane_left(i % LANES) + 40, y=80 + (i // LANES) * 140)
        doc, node_id = map_edits.add_node(doc, kind=kind, position=position)
        doc = map_edits.update_node(doc, node_id, {"emotion": (i * 7) % 5 - 2})
        ids.append(node_id)
    edges = [
        Edge(id=f"e{i}", source=source, target=target) for i, (source, target) in enumerate(itertools.pairwise(ids))
    ]
    return doc.model_copy(update={"edges": edges})


def store(doc: JourneyMap) -> int:
    with session_scope() as session:
        journey_id: int = create_journey(session=session, doc=doc).id
    return journey_id


@dataclass
class Run:
    drawn_ms: float
    pan_frames: int
    events_during_drag: int
    events_at_drop: int


def measure(page: Page, url: str, n: int) -> Run:
    sent: list[str] = []

    def on_socket(socket: WebSocket) -> None:
        socket.on("framesent", lambda payload: sent.append(str(payload)))

    page.on("websocket", on_socket)
    page.goto(f"{url}?expect={n}")
    page.wait_for_function("window.__drawnAt !== undefined", timeout=60_000)
    drawn = float(page.evaluate("window.__drawnAt"))
    page.wait_for_timeout(500)

    pane = page.locator(".react-flow__pane").bounding_box()
    assert pane is not None
    cx, cy = pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2
    page.mouse.move(cx, cy + 200)
    frames = page.evaluate_handle(FRAME_COUNTER)
    page.mouse.down()
    for step in range(30):
        page.mouse.move(cx + step * 4, cy + 200 - step * 2)
        page.wait_for_timeout(30)
    page.mouse.up()
    pan_frames = int(frames.json_value())

    x, y = page.evaluate(NEAREST_CARD, [cx, cy])
    page.mouse.move(x, y)
    page.mouse.down()
    before = len([frame for frame in sent if frame.startswith("42")])
    for step in range(100):  # 100 moves of 20 ms: a two-second drag
        page.mouse.move(x + step, y + step / 2)
        page.wait_for_timeout(20)
    during = len([frame for frame in sent if frame.startswith("42")]) - before
    page.mouse.up()
    page.wait_for_timeout(600)
    at_drop = len([frame for frame in sent if frame.startswith("42")]) - before - during
    page.remove_listener("websocket", on_socket)
    return Run(drawn, pan_frames, during, at_drop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://localhost:3000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--route", default="/journeys/{id}", help="editor route, {id} is the journey id")
    args = parser.parse_args()
    sizes = {"reference (1 node)": 1, "30 nodes": 30, "300 nodes": 300}
    journeys = {label: store(grid_map(n)) for label, n in sizes.items()}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        print(f"{'map':<20}{'drawn ms (median)':>19}{'pan frames/s':>14}{'events in drag':>16}{'at drop':>9}")
        for label, n in sizes.items():
            runs = []
            for _ in range(args.repeat):
                context = browser.new_context(viewport={"width": 1600, "height": 900})
                page = context.new_page()
                page.add_init_script(DRAWN_PROBE)
                url = args.base_url + args.route.format(id=journeys[label])
                runs.append(measure(page, url, n))
                context.close()
            print(
                f"{label:<20}{statistics.median(r.drawn_ms for r in runs):>19.0f}"
                f"{statistics.median(r.pan_frames for r in runs):>14.0f}"
                f"{max(r.events_during_drag for r in runs):>16}{max(r.events_at_drop for r in runs):>9}"
            )
        browser.close()


if __name__ == "__main__":
    main()
