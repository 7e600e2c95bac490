"""What a person sees when an event handler fails in a way no page foresaw.

Reflex's own answer, under ``reflex run``, shows the exception's type and text: a database driver's
message with its SQL, a Python error naming the code. Here the exception goes to the log, traceback and
all, and the person sees a plain message. Failures a page foresees (a filter that cannot be applied, an
action the journey's state refuses) are answered by the page itself, naming what is wrong.
"""

from __future__ import annotations

import logging

import reflex as rx
from reflex.event import EventSpec

logger = logging.getLogger("journey_builder")

UNEXPECTED = "That did not work: the server met an unexpected error, now in its log. Reload the page to go on."


def unexpected_error(exception: Exception) -> EventSpec:
    """The app's backend exception handler (Reflex checks this signature: one ``exception`` argument)."""
    logger.error("An event handler failed", exc_info=exception)
    # Reflex's own id, so a burst of failures shows one toast rather than a stack of them.
    return rx.toast.error(UNEXPECTED, id="backend_error")
