"""Rendering a message's Liquid placeholders for one customer at send time.

Templates see ``profile`` (the customer's traits), ``event`` (the entry event's properties),
``journey.name`` and ``unsubscribe_url``. A variable with no value raises ``ContentRenderError`` naming
it, so a message never goes out with a silent blank where a name should be. A trait or property whose
value is null counts as missing, and so does an empty ``unsubscribe_url``. Designers opt into a fallback
explicitly with the ``default`` filter (``{{ profile.first_name | default: "there" }}``), and
``{% if event.coupon %}`` may test an optional value without raising.

Parsed templates are cached by source text, so sending thousands of messages built from the same few
templates parses each template once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from liquid import BoundTemplate, Environment, FalsyStrictUndefined
from liquid.exceptions import LiquidError, UndefinedError

from engine.map import MessageContent

_UNDEFINED_MESSAGE = re.compile(r"^'?(?P<name>.+?)'? is undefined$")


class ContentRenderError(ValueError):
    """A message could not be rendered; ``variable`` names the missing value when that is the cause."""

    def __init__(self, message: str, *, field: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.variable = variable


class _MissingValue(FalsyStrictUndefined):
    """Strict when output, false in ``if``, and replaced by the ``default`` filter."""

    force_liquid_default = True


class _ContentEnvironment(Environment):
    # A loop over a huge list or a runaway template must not stall the dispatcher or fill memory.
    loop_iteration_limit = 10_000
    output_stream_limit = 1_000_000


_ENVIRONMENT = _ContentEnvironment(undefined=_MissingValue, autoescape=False)


@functools.lru_cache(maxsize=4096)
def parse_template(source: str) -> BoundTemplate:
    """The parsed template for ``source``, parsed once and then served from the cache."""
    return _ENVIRONMENT.from_string(source)


def render_content(
    content: MessageContent,
    *,
    profile: Mapping[str, object],
    event: Mapping[str, object],
    journey_name: str,
    unsubscribe_url: str,
) -> MessageContent:
    """Render subject, body and url for one customer; raises ContentRenderError naming what is missing."""
    variables: dict[str, object] = {
        "profile": _without_nulls(profile),
        "event": _without_nulls(event),
        "journey": {"name": journey_name},
    }
    if unsubscribe_url:
        variables["unsubscribe_url"] = unsubscribe_url
    return MessageContent(
        subject=_render("subject", content.subject, variables),
        body=_render("body", content.body, variables),
        url=_render("url", content.url, variables),
    )


def _render(field: str, source: str, variables: Mapping[str, object]) -> str:
    # Most subjects and many URLs hold no Liquid at all; they need neither the cache nor the renderer.
    if "{" not in source:
        return source
    try:
        return str(parse_template(source).render(**variables))
    except UndefinedError as error:
        message = str(error.message)
        match = _UNDEFINED_MESSAGE.match(message)
        variable = match.group("name") if match else message
        raise ContentRenderError(
            f"the {field} uses {variable}, which has no value for this customer", field=field, variable=variable
        ) from None
    except LiquidError as error:
        raise ContentRenderError(f"the {field} could not be rendered: {error.message!s}", field=field) from None


def _without_nulls(values: Mapping[str, object]) -> dict[str, object]:
    return {
        key: _without_nulls(value) if isinstance(value, Mapping) else value
        for key, value in values.items()
        if value is not None
    }
