"""A short way to render the commonest templates, with exactly the output Liquid gives them.

Most message templates are text with placeholders: ``Hi {{ profile.first_name | default: 'there' }}, your cart:
{{ event.cart_url }}``. Liquid renders each through a render context, a bounded output stream and a bounded
filter call, which is most of what sending (and forecasting) a message costs. A template whose parsed nodes are
only text and such placeholders (a path of names rooted at a render variable, with at most a ``default`` filter
given a string literal) is rendered here instead, when every value it meets is one whose Liquid output is plain:
text, or a whole number (not a boolean). Whenever anything else turns up (a missing value without a default, a
value of another kind, a name Liquid treats specially, text near a bound), ``render`` returns None and the caller
renders with Liquid, which then gives the output or the error it always gave. The short way never decides that a
message fails.

What it mirrors (python-liquid 2, given the render variables without their null values): a path's root is looked
up in the render variables, each further name with ``obj[name]``, a null value read as a missing one (``size``,
``first`` and ``last`` are special there, so they are left to Liquid); a missing value given to ``default`` yields
the literal, as does an empty text; ``default`` returns a number as it is; output is ``str`` of the value,
HTML-escaped in an HTML body, while the template's text and string literals are written as they are.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from liquid import BoundTemplate, escape
from liquid.builtin.content import ContentNode
from liquid.builtin.expressions.arguments import PositionalArgument
from liquid.builtin.expressions.filtered import FilteredExpression
from liquid.builtin.expressions.path import Path
from liquid.builtin.expressions.primitive import StringLiteral
from liquid.builtin.output import OutputNode

from engine.content.bounds import MAX_OUTPUT_BYTES, MAX_TEXT_CHARS

# Names Liquid's item lookup gives a meaning of its own (a length, an item) when the value lacks them.
_SPECIAL = frozenset({"size", "first", "last"})
# Whole numbers up to this print as themselves, far from the bound on a number's digits.
_LARGEST_PLAIN_NUMBER = 10**18
# UTF-8 takes at most four bytes a character: output this long is under the output bound without measuring it.
_SURELY_SHORT = MAX_OUTPUT_BYTES // 4


@dataclass(frozen=True, slots=True)
class _Placeholder:
    path: tuple[str, ...]
    default: str | None


_Part = str | _Placeholder


@dataclass(frozen=True, slots=True)
class PlainTemplate:
    """A template of text and placeholders only, ready to render without Liquid."""

    parts: tuple[_Part, ...]

    def render(self, variables: Mapping[str, object], *, html: bool) -> str | None:
        """The text Liquid would render from ``variables``, or None when Liquid must be asked."""
        pieces: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            piece = _output(_lookup(variables, part.path), part.default, html=html)
            if piece is None:
                return None
            pieces.append(piece)
        text = "".join(pieces)
        if len(text) > _SURELY_SHORT and len(text.encode()) > MAX_OUTPUT_BYTES:
            return None
        return text


# A name the path does not find in a dict: Liquid's undefined value.
_MISSING = object()
# What is not looked up here: Liquid's lookup decides.
_UNKNOWN = object()


def _lookup(variables: Mapping[str, object], path: tuple[str, ...]) -> object:
    root, *names = path
    if root not in variables:
        # Liquid may still find it (a built-in name); only a render variable is known here.
        return _UNKNOWN
    value = variables[root]
    for name in names:
        if type(value) is not dict:
            return _UNKNOWN
        value = value.get(name)
        # A null value is a missing one: Liquid renders from variables without nulls (``liquid.render_content``).
        if value is None:
            return _MISSING
    return value


def _output(value: object, default: str | None, *, html: bool) -> str | None:
    """What Liquid writes for ``value`` (through ``default`` when given), or None when that is not plain."""
    if value is _MISSING:
        # Liquid's missing value raises when written; ``default`` replaces it with its literal, never escaped.
        return default
    if type(value) is str:
        assert isinstance(value, str)
        if len(value) > MAX_TEXT_CHARS:
            return None
        if not value and default is not None:
            return default
        return str(escape(value)) if html else value
    if type(value) is int:
        assert isinstance(value, int)
        # ``default`` gives a number back as it is, zero included.
        return str(value) if -_LARGEST_PLAIN_NUMBER < value < _LARGEST_PLAIN_NUMBER else None
    return None


@functools.lru_cache(maxsize=4096)
def plain_template(template: BoundTemplate) -> PlainTemplate | None:
    """``template`` as text and placeholders, or None when it holds anything else."""
    parts: list[_Part] = []
    for node in template.nodes:
        if type(node) is ContentNode:
            parts.append(node.text)
        elif type(node) is OutputNode:
            placeholder = _placeholder(node.expression)
            if placeholder is None:
                return None
            parts.append(placeholder)
        else:
            return None
    return PlainTemplate(parts=tuple(parts))


def _placeholder(expression: object) -> _Placeholder | None:
    if type(expression) is not FilteredExpression or type(expression.left) is not Path:
        return None
    segments = expression.left.path
    if not all(type(s) is str for s in segments) or _SPECIAL.intersection(segments[1:]):
        return None
    path = tuple(str(s) for s in segments)
    filters = expression.filters or []
    if not filters:
        return _Placeholder(path=path, default=None)
    if len(filters) != 1 or filters[0].name != "default" or len(filters[0].args) != 1:
        return None
    argument = filters[0].args[0]
    if type(argument) is not PositionalArgument or type(argument.value) is not StringLiteral:
        return None
    default = argument.value.value
    if len(default) > MAX_TEXT_CHARS:
        return None
    return _Placeholder(path=path, default=default)
