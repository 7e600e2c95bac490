"""Starter journeys a designer can begin from instead of a blank canvas.

Each starter is a journey-map document shipped as package data (``<name>.json`` beside this
module), so an installed wheel carries them and they are read the same way the app reads a saved map.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Final

from engine.map.document import JourneyMap

# Listed rather than discovered so the order shown to designers is deliberate and a stray JSON file
# in the package cannot turn into a starter.
TEMPLATE_NAMES: Final = ("cart_abandonment", "trial_onboarding", "at_risk_save", "support_escalation")


class UnknownTemplateError(LookupError):
    """A starter name that is not one of the shipped templates."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no starter journey named {name!r}; known starters: {', '.join(TEMPLATE_NAMES)}")


def list_templates() -> list[str]:
    """The names of the starter journeys, in the order they are offered."""
    return list(TEMPLATE_NAMES)


def load_template(name: str) -> JourneyMap:
    """The starter journey called ``name`` as a fresh document."""
    if name not in TEMPLATE_NAMES:
        raise UnknownTemplateError(name)
    text = files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return JourneyMap.from_json(text)
