"""The one guard in front of every state event handler.

``requires(action)`` and ``viewing(action)`` wrap a handler so that, on every call, the identity is looked
up again from the session cookie's secret, as the browser's connection sent it (see ``session.py``), so an
expired, signed-out or removed session is refused at once, and checked against
``engine.accounts.permissions``. A refused call runs none of the handler, so nothing changes; it answers
with a toast giving the reason, and sends a signed-out browser to the sign-in page.

The wrapper is always async (the session state is fetched with ``get_state``), which Reflex runs like the
handler it replaces: plain and async functions, generators, background tasks, and typed arguments, whose
signature and annotations ``functools.wraps`` hands on.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar, cast

import reflex as rx
from reflex.istate.proxy import StateProxy
from sqlalchemy.exc import SQLAlchemyError

from engine.accounts import AccessDeniedError, Action, Identity, has_users, identity_for, require
from engine.store import session_scope
from journey_builder import routes

from .rules import Kind, Rule, register
from .session import SessionState, session_secret

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_acting: ContextVar[Identity | None] = ContextVar("journey_builder_acting", default=None)


def acting() -> Identity:
    """Who is calling the guarded handler that is running now (for ``actor=`` and audit entries)."""
    identity = _acting.get()
    if identity is None:
        raise RuntimeError("acting() is known only inside a handler marked with requires() or viewing()")
    return identity


def _identity(secret: str) -> Identity | None:
    if not secret:
        return None
    with session_scope() as session:
        return identity_for(session=session, secret=secret)


def _anyone_has_an_account() -> bool:
    # A refusal must not fail in turn: a store that cannot be read sends the caller to sign in, as before.
    try:
        with session_scope() as session:
            return has_users(session=session)
    except SQLAlchemyError:
        return True


def _here(state: rx.State) -> str:
    url = state.router.url
    return f"{url.path}?{url.query}" if url.query else url.path


async def _check(state: rx.State, rule: Rule) -> tuple[Identity | None, list[rx.event.EventSpec]]:
    secret = session_secret(state)
    identity = _identity(secret)
    (await state.get_state(SessionState))._show(identity)
    if identity is None:
        if not secret and not _anyone_has_an_account():
            # A fresh install: nobody could sign in, so the way on is the first run, without a sign-in prompt.
            return None, [rx.redirect(routes.first_run())]
        reason = "Your session has ended; sign in again." if secret else "Sign in to continue."
        return None, [rx.toast.info(reason), rx.redirect(routes.sign_in(_here(state)))]
    assert rule.action is not None
    try:
        require(identity.role, rule.action)
    except AccessDeniedError as error:
        refusal = [rx.toast.error(f"Not allowed: {error}.")]
        if rule.kind is Kind.VIEWING:
            refusal.append(rx.redirect(routes.journeys_list()))
        return identity, refusal
    return identity, []


async def _admit(state: rx.State, rule: Rule) -> tuple[Identity | None, list[rx.event.EventSpec]]:
    # A background task's state is a proxy that may be read and written only while it holds the lock.
    if isinstance(state, StateProxy):
        async with state:
            return await _check(state, rule)
    return await _check(state, rule)


def _as(identity: Identity | None, step: Callable[[], T]) -> T:
    token = _acting.set(identity)
    try:
        return step()
    finally:
        _acting.reset(token)


async def _as_async(identity: Identity | None, step: Callable[[], Awaitable[T]]) -> T:
    token = _acting.set(identity)
    try:
        return await step()
    finally:
        _acting.reset(token)


def _guard(rule: Rule) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        register(fn, rule)
        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def async_generator(self: rx.State, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                identity, refusal = await _admit(self, rule)
                if refusal:
                    yield refusal
                    return
                events = fn(self, *args, **kwargs)
                while True:
                    try:
                        item = await _as_async(identity, events.__anext__)
                    except StopAsyncIteration:
                        return
                    yield item

            return cast(F, async_generator)
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            async def generator(self: rx.State, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                identity, refusal = await _admit(self, rule)
                if refusal:
                    yield refusal
                    return
                events = fn(self, *args, **kwargs)
                while True:
                    try:
                        item = _as(identity, lambda: next(events))
                    except StopIteration as stop:
                        # Reflex chains a generator's return value; an async generator can only yield it.
                        if stop.value is not None:
                            yield stop.value
                        return
                    yield item

            return cast(F, generator)

        @functools.wraps(fn)
        async def call(self: rx.State, *args: Any, **kwargs: Any) -> Any:
            identity, refusal = await _admit(self, rule)
            if refusal:
                return refusal
            if inspect.iscoroutinefunction(fn):
                return await _as_async(identity, lambda: fn(self, *args, **kwargs))
            return _as(identity, lambda: fn(self, *args, **kwargs))

        return cast(F, call)

    return decorate


def requires(action: Action) -> Callable[[F], F]:
    """Mark a handler that changes something: it runs only for a signed-in role allowed ``action``."""
    return _guard(Rule(Kind.REQUIRES, action))


def viewing(action: Action) -> Callable[[F], F]:
    """Mark a handler that only loads or shows data: it runs only for a signed-in role allowed ``action``.

    A refused view also leaves the page for the journeys list, which every role may see.
    """
    return _guard(Rule(Kind.VIEWING, action))
