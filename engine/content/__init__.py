"""Message content: Liquid templates rendered for one customer, and the signed unsubscribe links they carry.

Used by the compiler (parsing), the runtime (rendering at send time) and the intake of unsubscribes.
"""

from engine.content.liquid import ContentRenderError, parse_template, render_content
from engine.content.unsubscribe import UnsubscribeError, unsubscribe, unsubscribe_url

__all__ = [
    "ContentRenderError",
    "UnsubscribeError",
    "parse_template",
    "render_content",
    "unsubscribe",
    "unsubscribe_url",
]
