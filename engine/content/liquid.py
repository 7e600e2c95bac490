"""Rendering a message's Liquid placeholders for one customer at send time.

Templates see ``profile`` (the customer's traits), ``event`` (the entry event's properties),
``journey.name`` and ``unsubscribe_url``. A variable with no value raises ``ContentRenderError`` naming
it, so a message never goes out with a silent blank where a name should be. A trait or property whose
value is null counts as missing, and so does an empty ``unsubscribe_url``. Designers opt into a fallback
explicitly with the ``default`` filter (``{{ profile.first_name | default: "there" }}``), and
``{% if event.coupon %}`` may test an optional value without raising.

A body whose template holds HTML tags (``looks_like_html``, the test the email channel applies to decide
on an HTML part) is rendered with every value HTML-escaped: ``<`` in a customer's name arrives as
``&lt;``. Trusted HTML is what the template itself holds: tags written in the body, string literals
(``{{ "<b>Sale</b>" }}``) and ``{% capture %}`` blocks, whose own values were escaped when captured. The
``safe`` filter is refused, since it could only let a value through unescaped. A plain-text body is
rendered as written, unless it comes out looking like HTML: a value holding tags (a name such as
``<img src=x>``) or markup the template made (``tablerow``, ``newline_to_br``). Then it is rendered
again with the values escaped, so no channel takes customer data for markup. Subjects and URLs are never
escaped.

Rendering is bounded (``bounds``): a template over a bound, a filter that fails on the data, or anything
else going wrong with this template and this customer's data is a ``ContentRenderError`` saying why.

Parsed templates are cached by source text, so sending thousands of messages built from the same few
templates parses each template once; one of only text and placeholders is rendered without Liquid's machinery,
to the same output (``engine.content.plain``).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping

from liquid import BoundTemplate, Expression, RenderContext
from liquid.builtin.expressions.primitive import FloatLiteral, IntegerLiteral, RangeLiteral
from liquid.exceptions import (
    LiquidError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    UndefinedError,
)

from engine.content.bounds import MAX_ITEMS, MAX_LOCALS_BYTES, MAX_OUTPUT_BYTES, environment, reason, time_budget
from engine.content.plain import plain_template
from engine.map import MessageContent

_UNDEFINED_MESSAGE = re.compile(r"^'?(?P<name>.+?)'? is undefined$")
_LOOKS_LIKE_HTML = re.compile(
    r"<\s*(?:!doctype\s+html|html|head|body|p|div|br|a|table|tr|td|h[1-6]|ul|ol|li|span|strong|em|b|i|img)\b[^>]*>",
    re.IGNORECASE,
)


class ContentRenderError(ValueError):
    """A message could not be rendered; ``variable`` names the missing value when that is the cause."""

    def __init__(self, message: str, *, field: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.variable = variable


def looks_like_html(text: str) -> bool:
    """Whether ``text`` holds a common HTML tag: such a body goes by email as HTML with a text alternative."""
    return _LOOKS_LIKE_HTML.search(text) is not None


@functools.lru_cache(maxsize=4096)
def _template_is_html(source: str) -> bool:
    return looks_like_html(source)


@functools.lru_cache(maxsize=4096)
def parse_template(source: str) -> BoundTemplate:
    """The parsed template for ``source``, parsed once and then served from the cache."""
    return environment(html=False).from_string(source)


@functools.lru_cache(maxsize=1024)
def _parse_html(source: str) -> BoundTemplate:
    return environment(html=True).from_string(source)


@functools.lru_cache(maxsize=4096)
def fixed_problems(source: str) -> tuple[tuple[str, str], ...]:
    """(code, message tail) for what makes a template that parses unusable whatever the customer's data:
    a range literal wider than any list a message may use, and the ``safe`` filter."""
    template = parse_template(source)
    problems: list[tuple[int, str, str]] = []
    for expression in _expressions(template):
        ends = _literal_range(expression)
        if ends is not None and ends[1] - ends[0] + 1 > MAX_ITEMS:
            start, stop = ends
            size = stop - start + 1
            message = f"has a range ({start}..{stop}) of {size} items; a message may use at most {MAX_ITEMS}"
            problems.append((expression.token.start_index, "template_over_limit", message))
    if "safe" in template.analyze(include_partials=False).filters:
        message = (
            "uses the safe filter, which is not available: HTML written in the template goes out as written, "
            "and values are always escaped in an HTML body"
        )
        problems.append((len(source), "unsafe_html", message))
    return tuple((code, message) for _, code, message in sorted(problems))


def _literal_range(expression: Expression) -> tuple[int, int] | None:
    if not isinstance(expression, RangeLiteral):
        return None
    start, stop = _whole(expression.start), _whole(expression.stop)
    return (start, stop) if start is not None and stop is not None else None


def _whole(end: Expression) -> int | None:
    if isinstance(end, IntegerLiteral):
        return end.value
    if isinstance(end, FloatLiteral) and math.isfinite(end.value):
        return int(end.value)
    return None


def _expressions(template: BoundTemplate) -> Iterator[Expression]:
    static = RenderContext(template)
    nodes = list(template.nodes)
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children(static, include_partials=False))
        expressions = list(node.expressions())
        while expressions:
            expression = expressions.pop()
            yield expression
            expressions.extend(expression.children())


def render_content(
    content: MessageContent,
    *,
    profile: Mapping[str, object],
    event: Mapping[str, object],
    journey_name: str,
    unsubscribe_url: str,
) -> MessageContent:
    """Render subject, body, url and button for one customer; raises ContentRenderError saying what went wrong."""
    given: dict[str, object] = {"profile": profile, "event": event, "journey": {"name": journey_name}}
    if unsubscribe_url:
        given["unsubscribe_url"] = unsubscribe_url
    variables = _Variables(given)
    with time_budget():
        return MessageContent(
            subject=_render("subject", content.subject, variables),
            body=_render_body(content.body, variables),
            url=_render("url", content.url, variables),
            button=_render("button", content.button, variables),
        )


class _Variables:
    """A message's render variables. A value that is null reads as a missing one, so a placeholder without a
    default fails rather than printing nothing: the short way (``engine/content/plain.py``) reads them as given and
    treats a null as missing itself; Liquid gets a copy without the nulls, made once, and only for a template the
    short way leaves to it (copying every customer's traits for every message was a tenth of a forecast's time)."""

    __slots__ = ("_for_liquid", "given")

    def __init__(self, given: dict[str, object]) -> None:
        self.given = given
        self._for_liquid: dict[str, object] | None = None

    def for_liquid(self) -> dict[str, object]:
        if self._for_liquid is None:
            self._for_liquid = _without_nulls(self.given)
        return self._for_liquid


def _render_body(source: str, variables: _Variables) -> str:
    html = _template_is_html(source)
    body = _render("body", source, variables, html=html)
    if not html and looks_like_html(body):
        # A value or a tag-making filter brought the markup, and the email channel will send HTML: values must be
        # escaped in it, and once escaped they read as text in every other channel too.
        body = _render("body", source, variables, html=True)
    return body


def _render(field: str, source: str, variables: _Variables, *, html: bool = False) -> str:
    # Most subjects and many URLs hold no Liquid at all; they need neither the cache nor the renderer.
    if "{" not in source:
        return source
    try:
        template = _parse_html(source) if html else parse_template(source)
        plain = plain_template(template)
        text = plain.render(variables.given, html=html) if plain is not None else None
        return text if text is not None else str(template.render(**variables.for_liquid()))
    except UndefinedError as error:
        message = str(error.message)
        match = _UNDEFINED_MESSAGE.match(message)
        variable = match.group("name") if match else message
        raise ContentRenderError(
            f"the {field} uses {variable}, which has no value for this customer", field=field, variable=variable
        ) from None
    except LoopIterationLimitError:
        raise ContentRenderError(
            f"the {field} went over the loop iteration limit ({MAX_ITEMS} iterations in all)", field=field
        ) from None
    except OutputStreamLimitError:
        raise ContentRenderError(
            f"the {field} would be longer than the output limit of {MAX_OUTPUT_BYTES} bytes", field=field
        ) from None
    except LocalNamespaceLimitError:
        raise ContentRenderError(
            f"the {field}'s assigned variables would hold more than {MAX_LOCALS_BYTES} bytes", field=field
        ) from None
    except LiquidError as error:
        raise ContentRenderError(f"the {field} could not be rendered: {error.message!s}", field=field) from None
    # The template is the designer's and the data the customer's; whatever else goes wrong with this pair
    # (a number too long to print, a range too wide to count) fails this customer's message, not the caller.
    except Exception as error:
        raise ContentRenderError(f"the {field} could not be rendered: {reason(error)}", field=field) from None


# Values that are surely not mappings, told by their type alone: checking against the Mapping ABC is slow, and
# every message renders with the customer's traits and the event's properties.
_SCALARS = frozenset({str, int, float, bool})


def _without_nulls(values: Mapping[str, object]) -> dict[str, object]:
    return {
        key: value if type(value) in _SCALARS or not isinstance(value, Mapping) else _without_nulls(value)
        for key, value in values.items()
        if value is not None
    }
