"""Canvas benchmark: the journey editor against a plain React Flow page, side by side in one run, in Chromium.

Prints, for grid maps of 30, 300 and 1,000 cards (N-1 edges over ten lanes), for both sides and their ratio:
- navigation to every card drawn: the first animation frame at which every card is in the DOM, visible and
  has a width, measured from navigation start (so a map that does not fit, whose cards are never all drawn,
  times out and is reported as such);
- frames per second while one card is dragged for two seconds, and while the pane is panned for two seconds
  (at 300 cards, or the middle size given);
- socket.io event frames the editor sends to the server during the drag (target 0) and at the drop;
- JavaScript on first load: bytes gzip-compressed here (level 6, the same for both sides, whatever the
  servers send) and the number of files;
- the floor of any page of the app: its sign-in page opened signed out, time from navigation to the first state
  delta it receives (socket connected, state hydrated), and its JavaScript, each against the plain page with the
  smallest map. No page of this app can beat these, whatever the editor does.

The reference is benchmarks/reference/: React Flow 12.8.6 with the options the editor uses, built with Vite from
the npm registry (``npm ci`` and ``vite build`` on the first run) and served from a static server of its own.

The editor side runs on a temporary SQLite database of its own: migrated, with a user created and signed in
through the engine (the browser holds the session's cookie) and the grid maps stored. Unless ``--base-url`` is
given, the script starts the app itself (``reflex run --env prod``, a production build, with
``JOURNEY_ENGINE=off``) on free ports against that database and stops it at the end. With ``--base-url`` the
app must already run against the database named by ``--database-url`` (``DATABASE_URL``):
    python benchmarks/canvas.py                              # builds and starts both sides
    python benchmarks/canvas.py --sizes 3 --repeat 1 --seconds 0.3   # the tiny smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import http.server
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, ViewportSize, WebSocket, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.accounts import create_user, sign_in  # noqa: E402
from engine.journeys import create_journey, get_journey  # noqa: E402
from engine.map import Edge, JourneyMap, NodeKind, Position, Stage  # noqa: E402
from engine.map import edits as map_edits  # noqa: E402
from engine.store import Role, session_scope, upgrade_database  # noqa: E402
from journey_builder.auth import SESSION_COOKIE  # noqa: E402
from journey_builder.canvas.drawing import DraftCache  # noqa: E402

REFERENCE = ROOT / "benchmarks" / "reference"
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
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
LANES = 10
KINDS = [NodeKind.TOUCHPOINT, NodeKind.SEND, NodeKind.WAIT, NodeKind.TOUCHPOINT, NodeKind.SEND]
EMAIL = "bench@canvas.example.com"
PASSWORD = "canvas benchmark password"

# Records the first animation frame at which every card is drawn, measured from navigation start.
DRAWN_PROBE = """
(() => {
  const expected = Number(new URL(location.href).searchParams.get("expect") || 0);
  window.__mostDrawn = 0;
  const check = () => {
    const cards = document.querySelectorAll(".react-flow__node-card");
    let drawn = 0;
    for (const c of cards) if (c.offsetWidth > 0 && getComputedStyle(c).visibility !== "hidden") drawn += 1;
    window.__mostDrawn = Math.max(window.__mostDrawn, drawn);
    if (expected && drawn === expected) { window.__drawnAt = performance.now(); return; }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();
"""

# Records when the first state delta arrives over the page's socket, measured from navigation start.
HYDRATED_PROBE = """
(() => {
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (window.__hydratedAt === undefined && String(event.data).includes('"delta"')) {
          window.__hydratedAt = performance.now();
        }
      });
    }
  };
})();
"""

# Counts animation frames for ``ms`` milliseconds; resolves with frames per second.
FRAME_COUNTER = """
(ms) => new Promise((resolve) => {
  let frames = 0;
  const start = performance.now();
  const tick = (now) => {
    frames += 1;
    if (now - start < ms) requestAnimationFrame(tick); else resolve(frames * 1000 / (now - start));
  };
  requestAnimationFrame(tick);
})
"""

# The head (where a drag starts) of the card nearest the pane's centre, among those wholly in view.
NEAREST_CARD = """
() => {
  const pane = document.querySelector(".react-flow__pane").getBoundingClientRect();
  const cx = pane.left + pane.width / 2, cy = pane.top + pane.height / 2;
  const centre = (r) => [r.left + r.width / 2, r.top + Math.min(12, r.height / 2)];
  const rects = [...document.querySelectorAll(".react-flow__node-card")].map((c) => c.getBoundingClientRect())
    .filter((r) => r.width > 0 && r.left > pane.left && r.right < pane.right)
    .filter((r) => r.top > pane.top && r.bottom < pane.bottom);
  const distance = (r) => Math.hypot(centre(r)[0] - cx, centre(r)[1] - cy);
  if (!rects.length) return null;
  const best = rects.reduce((b, r) => (distance(r) < distance(b) ? r : b));
  return centre(best);
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


def prepare_database(url: str, sizes: list[int]) -> tuple[str, dict[int, int]]:
    """Migrate, create the benchmark's user, sign it in and store one grid map per size: (session secret, ids)."""
    upgrade_database(url)
    with session_scope(url) as session:
        create_user(session=session, email=EMAIL, password=PASSWORD, role=Role.ADMIN, name="Bench", actor="bench")
    with session_scope(url) as session:
        secret = sign_in(session=session, email=EMAIL, password=PASSWORD)[1]
    journeys = {}
    for n in sizes:
        with session_scope(url) as session:
            journey_id = create_journey(session=session, doc=grid_map(n)).id
            assert journey_id is not None
            journeys[n] = journey_id
    return secret, journeys


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the app stopped while starting (exit {process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status < 500:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def running_app(database_url: str, log: Path) -> Iterator[str]:
    """``reflex run --env prod`` on a free port against ``database_url``; yields the app's address.

    In production Reflex serves the pages and the backend (its websocket) on one port."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "JOURNEY_ENGINE": "off",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "reflex",
        "run",
        "--env",
        "prod",
        "--frontend-port",
        str(port),
        "--backend-port",
        str(port),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/ping", 900, process)
            wait_for(f"http://127.0.0.1:{port}/", 60, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def build_reference() -> Path:
    """benchmarks/reference/dist, built from its pinned package-lock.json when missing or older than its sources."""
    dist = REFERENCE / "dist"
    sources = [REFERENCE / name for name in ("package-lock.json", "index.html", "vite.config.js", "src/main.jsx")]
    if dist.exists() and dist.stat().st_mtime >= max(path.stat().st_mtime for path in sources):
        return dist
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to build the plain React Flow page (benchmarks/reference)")
    if not (REFERENCE / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=REFERENCE, check=True, capture_output=True)
    subprocess.run([npm, "run", "build"], cwd=REFERENCE, check=True, capture_output=True)
    dist.touch()
    return dist


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Opened:
    drawn_ms: float | None  # None: never every card drawn
    most_drawn: int
    js_gzip_bytes: int
    js_files: int
    # From the page's first event (hydrate and load) sent to the map's arrival, as the browser sees it.
    server_ms: float | None
    # Socket.io frames the page sent, kept while the page stays open.
    sent: list[str]


@dataclass
class Moved:
    drag_fps: float
    pan_fps: float
    events_during_drag: int
    events_at_drop: int


def open_map(page: Page, url: str, n: int, timeout_ms: int) -> Opened:
    scripts: list[Any] = []
    page.on(
        "response", lambda response: scripts.append(response) if response.request.resource_type == "script" else None
    )
    sent: list[str] = []
    asked: list[float] = []
    answered: list[float] = []

    def on_sent(payload: str | bytes) -> None:
        sent.append(str(payload))
        # Reflex sends its first event (hydrate and load) inside the namespace's connect packet.
        if not asked and '"event"' in str(payload):
            asked.append(time.perf_counter())

    def on_received(payload: str | bytes) -> None:
        if not answered and '"drawing' in str(payload):
            answered.append(time.perf_counter())

    def on_socket(socket: WebSocket) -> None:
        socket.on("framesent", on_sent)
        socket.on("framereceived", on_received)

    page.on("websocket", on_socket)
    separator = "&" if "?" in url else "?"
    page.goto(f"{url}{separator}expect={n}")
    drawn: float | None = None
    try:
        page.wait_for_function("window.__drawnAt !== undefined", timeout=timeout_ms)
        drawn = float(page.evaluate("window.__drawnAt"))
    except Exception:  # a map that never fits: reported, not fatal
        drawn = None
    page.wait_for_load_state("load")
    bodies = []
    for response in scripts:
        with contextlib.suppress(Exception):
            bodies.append(response.body())
    server = (answered[0] - asked[0]) * 1000 if asked and answered else None
    most = int(page.evaluate("window.__mostDrawn"))
    return Opened(drawn, most, sum(len(gzip.compress(b, 6)) for b in bodies), len(bodies), server, sent)


def open_floor(page: Page, url: str) -> tuple[float | None, int]:
    """The least any page of this Reflex app costs: the sign-in page (a heading, a form, no canvas) opened
    signed out; the milliseconds from the navigation's start to the server's first state delta arriving (the
    socket connected and the state hydrated: before it no page can show server data), and the gzip bytes of the
    JavaScript it loads."""
    scripts: list[Any] = []
    page.on(
        "response", lambda response: scripts.append(response) if response.request.resource_type == "script" else None
    )
    page.add_init_script(HYDRATED_PROBE)
    page.goto(url)
    hydrated: float | None = None
    with contextlib.suppress(Exception):
        page.wait_for_function("window.__hydratedAt !== undefined", timeout=20_000)
        hydrated = float(page.evaluate("window.__hydratedAt"))
    page.wait_for_load_state("load")
    bodies = []
    for response in scripts:
        with contextlib.suppress(Exception):
            bodies.append(response.body())
    return hydrated, sum(len(gzip.compress(b, 6)) for b in bodies)


def move_around(page: Page, seconds: float, sent: list[str]) -> Moved:
    """Drag the card nearest the centre, then pan; ``sent`` fills with the frames the page sends."""
    page.wait_for_timeout(300)
    # On a busy machine the map's fit may still be moving: wait for a card wholly in view.
    x, y = page.wait_for_function(NEAREST_CARD, timeout=20_000).json_value()
    steps = max(5, int(seconds * 50))

    page.mouse.move(x, y)
    page.mouse.down()

    def events() -> int:
        return sum(frame.startswith("42") for frame in sent)  # socket.io event frames

    before = events()
    fps = page.evaluate_handle(FRAME_COUNTER, seconds * 1000)
    for step in range(steps):
        page.mouse.move(x + step * 2, y + step)
        page.wait_for_timeout(seconds * 1000 / steps)
    drag_fps = float(fps.json_value())
    during = events() - before
    page.mouse.up()
    page.wait_for_timeout(800)
    at_drop = events() - before - during

    # Pan from an empty spot of the pane: its bottom-left corner, which the fit keeps clear of the map.
    start = page.evaluate(
        """() => { const r = document.querySelector('.react-flow__pane').getBoundingClientRect();
                  return [r.left + 8, r.bottom - 8]; }"""
    )
    page.mouse.move(*start)
    page.mouse.down()
    fps = page.evaluate_handle(FRAME_COUNTER, seconds * 1000)
    for step in range(steps):
        page.mouse.move(start[0] + step * 3, start[1] - step * 2)
        page.wait_for_timeout(seconds * 1000 / steps)
    pan_fps = float(fps.json_value())
    page.mouse.up()
    return Moved(drag_fps, pan_fps, during, at_drop)


def session_context(browser: Browser, app_url: str | None, secret: str | None) -> Any:
    context = browser.new_context(viewport=VIEWPORT)
    if app_url and secret:
        context.add_cookies(
            [{"name": SESSION_COOKIE, "value": secret, "url": app_url, "httpOnly": True, "sameSite": "Lax"}]
        )
    context.add_init_script(DRAWN_PROBE)
    return context


def median(values: list[float]) -> float:
    return statistics.median(values)


def measure_open(browser: Browser, url: str, n: int, repeat: int, app: str | None, secret: str | None) -> list[Opened]:
    runs = []
    for _ in range(repeat):
        context = session_context(browser, app, secret)
        page = context.new_page()
        runs.append(open_map(page, url, n, timeout_ms=max(20_000, n * 30)))
        context.close()
    return runs


def measure_moves(
    browser: Browser, url: str, n: int, repeat: int, seconds: float, app: str | None, secret: str | None
) -> list[Moved]:
    runs = []
    for _ in range(repeat):
        context = session_context(browser, app, secret)
        page = context.new_page()
        opened = open_map(page, url, n, timeout_ms=max(20_000, n * 30))
        page.wait_for_timeout(500)
        runs.append(move_around(page, seconds, opened.sent))
        context.close()
    return runs


def server_open_ms(database_url: str, journey_id: int) -> tuple[float, float]:
    """The editor's own work to open a map (read, parse, compile, draw; as EditorState.load_journey does through
    journey_builder.canvas.drawing), in this process: the first time and again, unchanged."""
    cache = DraftCache()
    times = []
    for _ in range(2):
        start = time.perf_counter()
        with session_scope(database_url) as session:
            journey = get_journey(session=session, journey_id=journey_id)
            key, doc, _ = cache.opened(journey.draft_map)
        cache.drawing(key, doc, "")
        times.append((time.perf_counter() - start) * 1000)
    return times[0], times[1]


def ratio(product: float | None, plain: float | None) -> str:
    return f"{product / plain:.2f}" if product and plain else "-"


def report_open(n: int, product: list[Opened], plain: list[Opened]) -> None:
    def drawn(runs: list[Opened]) -> tuple[float | None, str]:
        times = [run.drawn_ms for run in runs if run.drawn_ms is not None]
        if len(times) < len(runs):
            return None, f"never all ({max(run.most_drawn for run in runs)} of {n})"
        return median(times), f"{median(times):.0f} ms"

    p_ms, p_text = drawn(product)
    r_ms, r_text = drawn(plain)
    print(f"{'navigation to all drawn, ' + str(n) + ' cards':<44}{p_text:>22}{r_text:>22}{ratio(p_ms, r_ms):>8}")
    answers = [run.server_ms for run in product if run.server_ms is not None]
    if answers:
        print(f"{'  of which: first event to the map back':<44}{f'{median(answers):.0f} ms':>22}{'-':>22}{'':>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30,300,1000", help="card counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the drag and of the pan")
    parser.add_argument("--moves-at", type=int, default=300, help="map size for drag and pan (must be in --sizes)")
    parser.add_argument("--base-url", help="an app already running against --database-url (else one is started)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="with --base-url")
    parser.add_argument("--route", default="/journeys/{id}", help="editor route, {id} is the journey id")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    moves_at = args.moves_at if args.moves_at in sizes else sizes[len(sizes) // 2]

    with tempfile.TemporaryDirectory(prefix="canvas-bench-") as scratch, contextlib.ExitStack() as stack:
        if args.base_url:
            if not args.database_url:
                parser.error("--base-url needs --database-url (or DATABASE_URL): the app's own database")
            database_url, app_url = args.database_url, args.base_url.rstrip("/")
        else:
            database_url = f"sqlite:///{Path(scratch) / 'canvas.db'}"
        secret, journeys = prepare_database(database_url, sizes)
        started = time.perf_counter()
        plain_url = stack.enter_context(serving(build_reference()))
        if not args.base_url:
            print("building and starting the app (reflex run --env prod) ...", flush=True)
            app_url = stack.enter_context(running_app(database_url, Path(scratch) / "reflex.log"))
        print(
            f"ready in {time.perf_counter() - started:.0f} s; median of {args.repeat} run(s), "
            "Chromium 1280x800, cold cache"
        )

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            print(f"{'':<44}{'editor':>22}{'plain React Flow':>22}{'ratio':>8}")
            first_load: tuple[list[Opened], list[Opened]] | None = None
            for n in sizes:
                product_url = app_url + args.route.format(id=journeys[n])
                # Interleaved, so a busy moment of the machine falls on both sides alike.
                product: list[Opened] = []
                plain: list[Opened] = []
                for _ in range(args.repeat):
                    product += measure_open(browser, product_url, n, 1, app_url, secret)
                    plain += measure_open(browser, f"{plain_url}?n={n}", n, 1, None, None)
                report_open(n, product, plain)
                first_load = first_load or (product, plain)
            product_moves = measure_moves(
                browser,
                app_url + args.route.format(id=journeys[moves_at]),
                moves_at,
                args.repeat,
                args.seconds,
                app_url,
                secret,
            )
            plain_moves = measure_moves(
                browser, f"{plain_url}?n={moves_at}", moves_at, args.repeat, args.seconds, None, None
            )
            for label, attribute in (("drag", "drag_fps"), ("pan", "pan_fps")):
                p = median([getattr(run, attribute) for run in product_moves])
                r = median([getattr(run, attribute) for run in plain_moves])
                print(
                    f"{f'frames/s, {label} {args.seconds:g} s, {moves_at} cards':<44}"
                    f"{p:>22.1f}{r:>22.1f}{ratio(p, r):>8}"
                )
            during = max(run.events_during_drag for run in product_moves)
            at_drop = max(run.events_at_drop for run in product_moves)
            print(f"{'server events during the drag (at the drop)':<44}{f'{during} ({at_drop})':>22}{'-':>22}{'':>8}")
            assert first_load is not None
            floors = []
            for _ in range(args.repeat):
                context = browser.new_context(viewport=VIEWPORT)
                floors.append(open_floor(context.new_page(), f"{app_url}/sign-in"))
                context.close()
            hydrated = [ms for ms, _ in floors if ms is not None]
            floor_ms = median(hydrated) if hydrated else None
            floor_kb = median([float(size) for _, size in floors]) / 1000
            plain_smallest = median([run.drawn_ms for run in first_load[1] if run.drawn_ms is not None])
            print(
                f"{'Reflex floor: sign-in page, state hydrated':<44}"
                f"{f'{floor_ms:.0f} ms' if floor_ms else 'never':>22}"
                f"{f'{plain_smallest:.0f} ms, {sizes[0]} cards':>22}{ratio(floor_ms, plain_smallest):>8}"
            )
            p_kb = median([run.js_gzip_bytes for run in first_load[0]]) / 1000
            r_kb = median([run.js_gzip_bytes for run in first_load[1]]) / 1000
            p_files = max(run.js_files for run in first_load[0])
            r_files = max(run.js_files for run in first_load[1])
            first, again = server_open_ms(database_url, journeys[max(sizes)])
            print(f"{f'server: open {max(sizes)} cards, first / again':<44}{f'{first:.0f} / {again:.0f} ms':>22}")
            print(
                f"{'JavaScript on first load (gzip)':<44}{f'{p_kb:.0f} kB in {p_files} files':>22}"
                f"{f'{r_kb:.0f} kB in {r_files} files':>22}{ratio(p_kb, r_kb):>8}"
            )
            floor_text = f"{floor_kb:.0f} kB"
            print(f"{'  Reflex floor: the sign-in page':<44}{floor_text:>22}{'':>22}{ratio(floor_kb, r_kb):>8}")
            browser.close()


if __name__ == "__main__":
    main()
