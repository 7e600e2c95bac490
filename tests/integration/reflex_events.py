"""Events through Reflex's own event processor, handed in the way the browser's websocket hands them in.

A ``Tab`` is one browser tab: a client token, the client address and the headers (cookies included) its
websocket connected with, which Reflex adds to every event of the connection, and the page it is on.
``Tab.send`` runs one handler through ``BaseStateEventProcessor`` (state manager, router
data, the handler, the deltas and the frontend events it answers with) and reports whether the handler's
own code ran: a profiler watches for its code object, so nothing of ours is replaced or instrumented.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken
from reflex.state import BaseState, State
from reflex_base.event import Event, EventHandler
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from reflex_base.utils.format import format_event_handler

import journey_builder.journey_builder  # noqa: F401 - registers the app, its pages' on_load handlers and states
from journey_builder.auth import SESSION_COOKIE

HYDRATE_AND_LOAD = format_event_handler(State.event_handlers["hydrate_and_load"])
_TOAST = re.compile(r'\["(\w+)"\]\("((?:[^"\\]|\\.)*)"')


@dataclass
class Outcome:
    ran: bool
    error: BaseException | None
    events: list[Event] = field(default_factory=list)
    deltas: list[Mapping[str, Mapping[str, Any]]] = field(default_factory=list)

    @property
    def toasts(self) -> list[tuple[str, str]]:
        """(level, text) of every toast the frontend was told to show."""
        return [
            (match[1], match[2])
            for event in self.events
            if event.name == "_call_function" and (match := _TOAST.search(str(event.payload.get("function", ""))))
        ]

    @property
    def redirects(self) -> list[str]:
        return [event.payload["path"] for event in self.events if event.name == "_redirect"]


class _Sink:
    """The websocket's place: what the backend would emit to the browser."""

    def __init__(self) -> None:
        self.events: dict[str, list[Event]] = {}

    async def emit_update(self, update: Any, token: str) -> None:
        self.events.setdefault(token, []).extend(update.events)


def _router_data(path: str, headers: Mapping[str, str], ip: str) -> dict[str, Any]:
    pathname, _, query = path.partition("?")
    data: dict[str, Any] = {"pathname": pathname, "asPath": path, "headers": dict(headers), "ip": ip}
    if query:
        data["query"] = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    return data


class _Watch:
    """Whether a given code object starts running, seen through ``sys.setprofile`` on this thread."""

    def __init__(self, code: CodeType) -> None:
        self.code, self.seen = code, False

    def __call__(self, frame: FrameType, event: str, _: Any) -> None:
        if event == "call" and frame.f_code is self.code:
            self.seen = True

    def __enter__(self) -> _Watch:
        self.previous = sys.getprofile()
        sys.setprofile(self)
        return self

    def __exit__(self, *_: object) -> None:
        sys.setprofile(self.previous)


def own_code(handler: EventHandler) -> CodeType:
    """The code of the handler as written, under any decorator that wraps it."""
    fn = inspect.unwrap(handler.fn)
    return fn.__code__


class Tab:
    def __init__(
        self, processor: BaseStateEventProcessor, sink: _Sink, manager: StateManagerMemory, ip: str = "127.0.0.1"
    ) -> None:
        self.processor, self.sink, self.manager = processor, sink, manager
        self.token = str(uuid.uuid4())
        self.path = "/"
        self.ip = ip
        self.headers: dict[str, str] = {}

    async def _run(self, event: Event, code: CodeType | None = None) -> Outcome:
        before = len(self.sink.events.get(self.token, []))
        deltas: list[Mapping[str, Mapping[str, Any]]] = []
        error: BaseException | None = None
        with _Watch(code) if code else _NoWatch() as watch:
            try:
                async for delta in self.processor.enqueue_stream_delta(self.token, event):
                    deltas.append(delta)
            except Exception as raised:  # the handler's own failure, reported rather than hidden
                error = raised
        return Outcome(
            ran=bool(code) and watch.seen,
            error=error,
            events=self.sink.events.get(self.token, [])[before:],
            deltas=deltas,
        )

    async def open(self, path: str, cookie_secret: str | None = None) -> Outcome:
        """Load ``path`` as a browser does: a new connection sending the cookie it holds, then hydrate_and_load."""
        self.path = path
        self.headers = {"cookie": f"{SESSION_COOKIE}={cookie_secret}"} if cookie_secret is not None else {}
        router_data = _router_data(path, self.headers, self.ip)
        return await self._run(Event(name=HYDRATE_AND_LOAD, payload={}, router_data=router_data))

    async def send(self, handler: EventHandler, **payload: Any) -> Outcome:
        router_data = _router_data(self.path, self.headers, self.ip)
        event = Event(name=format_event_handler(handler), payload=payload, router_data=router_data)
        return await self._run(event, own_code(handler))

    async def state(self, cls: type[BaseState]) -> dict[str, Any]:
        """The vars ``cls`` holds for this tab now (its own, not its substates')."""
        async with self.manager.modify_state(BaseStateToken(ident=self.token, cls=cls)) as root:
            found = await root.get_state(cls)
            return {name: getattr(found, name) for name, f in cls.__fields__.items() if f._owner is cls}


class _NoWatch:
    seen = False

    def __enter__(self) -> _NoWatch:
        return self

    def __exit__(self, *_: object) -> None:
        return None


@asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    """A running event processor; call the yielded function for a new tab (``ip``: the client's address)."""
    sink, manager = _Sink(), StateManagerMemory()
    processor = BaseStateEventProcessor().configure(state_manager=manager, event_namespace=sink)
    async with processor:
        yield lambda ip="127.0.0.1": Tab(processor, sink, manager, ip)
    await manager.close()


def sample_args(handler: EventHandler) -> dict[str, Any]:
    """Arguments of the right JSON shape for each parameter, as an event payload carries them."""
    hints = get_type_hints(inspect.unwrap(handler.fn))
    names = [name for name in inspect.signature(handler.fn).parameters if name != "self"]
    return {name: _sample(hints.get(name, str)) for name in names}


def _sample(hint: Any) -> Any:
    origin = get_origin(hint) or hint
    if origin in (list, tuple, set):
        return []
    if origin is dict or is_typeddict(hint):
        return {}
    if hint is bool:
        return False
    if hint in (int, float):
        return 0
    args = [arg for arg in get_args(hint) if arg is not type(None)]
    return _sample(args[0]) if args else ""


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
