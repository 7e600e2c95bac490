"""Message content: Liquid templates rendered for one customer, and the signed unsubscribe links they carry.

Used by the compiler (parsing, and the problems a template has whatever the data), the runtime and test sends
(rendering at send time, within the bounds of ``bounds``), the email channel (which bodies are HTML) and the
intake of unsubscribes.
"""

from engine.content.bounds import MAX_ITEMS, MAX_OUTPUT_BYTES, environment
from engine.content.liquid import ContentRenderError, fixed_problems, looks_like_html, parse_template, render_content
from engine.content.plain import plain_template
from engine.content.unsubscribe import (
    UnsubscribeError,
    public_base_url,
    unsubscribe,
    unsubscribe_url,
    uses_unsubscribe,
)

__all__ = [
    "MAX_ITEMS",
    "MAX_OUTPUT_BYTES",
    "ContentRenderError",
    "UnsubscribeError",
    "environment",
    "fixed_problems",
    "looks_like_html",
    "parse_template",
    "plain_template",
    "public_base_url",
    "render_content",
    "unsubscribe",
    "unsubscribe_url",
    "uses_unsubscribe",
]
