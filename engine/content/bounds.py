"""Bounds on rendering one message, and the Liquid environments that enforce them.

Templates are written by designers and filled with customer data, and neither can be trusted to stay small: a
range literal, a string doubled by ``append`` or a ``replace`` that multiplies its input would otherwise build
gigabytes inside the process that renders it. Every filter call is checked on the way in and on the way out
(length of text, number of items, digits of a number), the filters whose result can dwarf their input (``join``,
``replace``, ``split``, ``uniq``) are checked before they run, loops are counted, output and assigned variables
are measured, and the whole message has a time budget, looked at by every filter call, loop turn and write. A
template that goes over one stops with a ``RenderLimitError`` naming the bound; a filter that cannot handle a
value (a date out of range, ``round`` of NaN, ``sum`` of words) stops with a ``FilterFailedError`` saying why.
"""

from __future__ import annotations

import decimal
import functools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from io import StringIO
from typing import Any

from liquid import BoundTemplate, Environment, FalsyStrictUndefined, RenderContext
from liquid.builtin.tags.for_tag import ForLoop
from liquid.builtin.tags.tablerow_tag import TableRow
from liquid.exceptions import LiquidError
from liquid.output import LimitedStringIO

MAX_OUTPUT_BYTES = 256 * 1024
"""The longest a rendered subject, body or URL may be (UTF-8 bytes); well past what any mail client shows."""

MAX_TEXT_CHARS = MAX_OUTPUT_BYTES
"""The longest text a filter may take or make: nothing longer than a whole message is ever needed."""

MAX_ITEMS = 10_000
"""The most items a list or range handed to or made by a filter may hold, and the most loop iterations in all."""

MAX_UNIQ_ITEMS = 2_000
"""``uniq`` compares every item with every other (items may be unhashable objects), so it takes fewer."""

MAX_NUMBER_DIGITS = 1_000
"""The most digits a whole number handed to or made by a filter may have."""

MAX_LOCALS_BYTES = 4 * MAX_OUTPUT_BYTES
"""What the template's own variables (``assign``, ``capture``) may hold in all, as ``sys.getsizeof`` counts."""

RENDER_SECONDS = 0.5
"""The time one message may take to render; a template that needs more is refused for that customer."""

_LARGEST_NUMBER = 10**MAX_NUMBER_DIGITS
_deadline: ContextVar[float] = ContextVar("content_render_deadline", default=float("inf"))


class RenderLimitError(LiquidError):
    """The template went over one of the bounds above; the message names which."""


class FilterFailedError(LiquidError):
    """A filter could not handle the value it was given; the message names the filter and says why."""


@contextmanager
def time_budget() -> Iterator[None]:
    """Everything rendered inside shares one budget of ``RENDER_SECONDS``."""
    token = _deadline.set(time.monotonic() + RENDER_SECONDS)
    try:
        yield
    finally:
        _deadline.reset(token)


def _check_time() -> None:
    if time.monotonic() >= _deadline.get():
        raise RenderLimitError(f"rendering took longer than the {RENDER_SECONDS:g} s time limit", token=None)


def _text_weight(items: list[Any] | tuple[Any, ...]) -> int:
    """How much text a list holds, so that a list of one long string repeated cannot stand in for a long string."""
    return sum(len(item) for item in items if isinstance(item, str))


def _check_size(value: object, what: str) -> None:
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            raise RenderLimitError(
                f"{what} is a text of {len(value)} characters; at most {MAX_TEXT_CHARS} are allowed", token=None
            )
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= _LARGEST_NUMBER:
            raise RenderLimitError(f"{what} is a number of more than {MAX_NUMBER_DIGITS} digits", token=None)
    elif isinstance(value, range | list | tuple | dict):
        try:
            count = len(value)
        except OverflowError:  # a range wider than the machine's integers
            count = MAX_ITEMS + 1
        if count > MAX_ITEMS:
            raise RenderLimitError(f"{what} holds {count} items; at most {MAX_ITEMS} are allowed", token=None)
        if isinstance(value, list | tuple) and (weight := _text_weight(value)) > MAX_TEXT_CHARS:
            raise RenderLimitError(
                f"{what} holds {weight} characters of text; at most {MAX_TEXT_CHARS} are allowed", token=None
            )


def _too_long(name: str, size: int) -> None:
    if size > MAX_TEXT_CHARS:
        raise RenderLimitError(
            f"the {name} filter would make a text of {size} characters; at most {MAX_TEXT_CHARS} are allowed",
            token=None,
        )


def _before_join(value: Any, separator: Any = " ", *_: Any) -> None:
    if isinstance(value, list | tuple) and isinstance(separator, str) and value:
        _too_long("join", _text_weight(value) + len(separator) * (len(value) - 1))


def _before_replace(value: Any, old: Any = "", new: Any = "", *_: Any) -> None:
    if isinstance(value, str) and isinstance(old, str) and isinstance(new, str):
        matches = value.count(old) if old else len(value) + 1
        _too_long("replace", len(value) + matches * (len(new) - len(old)))


def _before_split(value: Any, separator: Any = " ", *_: Any) -> None:
    if isinstance(value, str) and isinstance(separator, str):
        pieces = value.count(separator) + 1 if separator else len(value)
        if pieces > MAX_ITEMS:
            raise RenderLimitError(
                f"the split filter would make {pieces} items; at most {MAX_ITEMS} are allowed", token=None
            )


def _before_uniq(value: Any, *_: Any) -> None:
    if isinstance(value, list | tuple | range) and len(value) > MAX_UNIQ_ITEMS:
        raise RenderLimitError(
            f"the uniq filter was given {len(value)} items; at most {MAX_UNIQ_ITEMS} are allowed", token=None
        )


_BEFORE: Mapping[str, Callable[..., None]] = {
    "join": _before_join,
    "replace": _before_replace,
    "split": _before_split,
    "uniq": _before_uniq,
}

# What filters raise when a value is not what they can work on; anything else is a bug, not the data's fault.
_DATA_ERRORS = (ArithmeticError, ValueError, TypeError, LookupError)


def reason(error: Exception) -> str:
    """Why a filter or a render failed, in words for the person reading the message's status."""
    # Liquid's arithmetic runs on Decimal, whose errors read as a list of signal classes.
    if isinstance(error, decimal.DecimalException):
        return "a value is not a number, or the arithmetic has no result for it"
    if isinstance(error, UnicodeDecodeError):
        return "the decoded bytes are not UTF-8 text"
    return str(error).split(";")[0] or type(error).__name__


class _BoundedFilter:
    """One of Liquid's filters with the checks above around it; it looks like the filter to Liquid."""

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        self._name = name
        self._func = func

    def __getattr__(self, attribute: str) -> Any:
        # Liquid reads with_context / with_environment / validate off the filter. Rendering is synchronous, so an
        # async entry point would only be a way around the checks.
        if attribute == "filter_async":
            raise AttributeError(attribute)
        return getattr(self._func, attribute)

    def __call__(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_time()
        what = f"the value given to the {self._name} filter"
        for each in (value, *args, *(v for k, v in kwargs.items() if k not in ("context", "environment"))):
            _check_size(each, what)
        if before := _BEFORE.get(self._name):
            before(value, *args)
        try:
            result = self._func(value, *args, **kwargs)
        except LiquidError:
            raise
        except _DATA_ERRORS as error:
            raise FilterFailedError(f"the {self._name} filter failed: {reason(error)}", token=None) from None
        _check_size(result, f"what the {self._name} filter made")
        return result


def _safe_is_refused(value: object) -> object:
    raise FilterFailedError(
        "the safe filter is not available: HTML written in the template goes out as written, and values from "
        "profile, event or journey are always escaped in an HTML body",
        token=None,
    )


class _BoundedOutput(LimitedStringIO):
    def write(self, text: str) -> int:
        _check_time()
        return super().write(text)


def _each_in_time(items: Iterator[Any]) -> Iterator[Any]:
    for item in items:
        _check_time()
        yield item


class _BoundedContext(RenderContext):
    @contextmanager
    def loop(self, namespace: Mapping[str, object], forloop: ForLoop | TableRow) -> Iterator[RenderContext]:
        # A loop body may write nothing and call no filter (an `if` over a long list), so each turn looks at the clock.
        forloop.it = _each_in_time(forloop.it)
        with super().loop(namespace, forloop) as context:
            yield context


class _BoundedTemplate(BoundTemplate):
    context_class = _BoundedContext

    def _get_buffer(self) -> StringIO:
        assert self.env.output_stream_limit is not None
        return _BoundedOutput(limit=self.env.output_stream_limit)


class _MissingValue(FalsyStrictUndefined):
    """Strict when output, false in ``if``, and replaced by the ``default`` filter."""

    force_liquid_default = True


class _ContentEnvironment(Environment):
    loop_iteration_limit = MAX_ITEMS
    output_stream_limit = MAX_OUTPUT_BYTES
    local_namespace_limit = MAX_LOCALS_BYTES
    template_class = _BoundedTemplate

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        self.filters = {name: _BoundedFilter(name, func) for name, func in self.filters.items()}
        self.filters["safe"] = _safe_is_refused


@functools.cache
def environment(*, html: bool) -> Environment:
    """The environment for text (nothing escaped) or for an HTML body (every value HTML-escaped)."""
    return _ContentEnvironment(undefined=_MissingValue, autoescape=html)
