"""The odds of what a simulated customer does at each wait: per starter, generic, or given per stage.

Also the simulation's error, raised wherever options or a journey cannot be simulated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from engine.compiler import HumanTaskStep, Plan, WaitForEventStep, WaitStep
from engine.map.starters import load_template


class SimulationError(ValueError):
    """Options or a journey the simulation cannot work with; the message says what to change."""


@dataclass(frozen=True)
class StageOdds:
    """At each wait in a stage: the chance the customer converts there, and the chance they drop."""

    convert: float
    drop: float

    def __post_init__(self) -> None:
        for name, value in (("convert", self.convert), ("drop", self.drop)):
            if not 0 <= value <= 1:
                raise SimulationError(f"{name} must be a probability from 0 to 1, got {value:g}")
        if self.convert + self.drop > 1:
            raise SimulationError(f"convert {self.convert:g} + drop {self.drop:g} is more than 1")


GENERIC_ODDS: Final = StageOdds(convert=0.3, drop=0.05)

# Per starter, for the stages that hold waits; chosen so a demo shows every outcome (conversions in
# more than one stage, drop-outs, customers riding the reminders to the end) rather than to match a
# benchmark of any industry.
STARTER_ODDS: Final[Mapping[str, Mapping[str, StageOdds]]] = {
    "cart_abandonment": {"abandon": StageOdds(0.10, 0.08), "recover": StageOdds(0.15, 0.04)},
    "trial_onboarding": {
        "activate": StageOdds(0.60, 0.05),
        "adopt": StageOdds(0.05, 0.04),
        "convert": StageOdds(0.35, 0.10),
    },
    "at_risk_save": {"re_engage": StageOdds(0.45, 0.08)},
    "support_escalation": {"reconnect": StageOdds(0.55, 0.05), "resolve": StageOdds(0.70, 0.05)},
}


def starter_of(plan: Plan) -> str | None:
    """The starter a journey was made from, recognised by its stages (a copy keeps its starter's stage ids)."""
    stages = set(plan.stage_order)
    for name in STARTER_ODDS:
        if {stage.id for stage in load_template(name).stages} == stages:
            return name
    return None


def waiting_stages(plan: Plan) -> list[str]:
    """The stages holding a wait, in the order customers move through them: where customers can act."""
    holding = {step.stage for step in plan.steps if isinstance(step, WaitStep | WaitForEventStep | HumanTaskStep)}
    return [stage for stage in plan.stage_order if stage in holding]


def resolve_odds(
    plan: Plan,
    *,
    convert: float | None = None,
    drop: float | None = None,
    stages: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> dict[str, StageOdds]:
    """The odds of every stage holding a wait: the starter's defaults (or generic ones), then
    ``convert``/``drop`` for every stage, then ``stages`` (stage id -> (convert, drop), None keeping
    the value below it)."""
    starter = starter_of(plan)
    defaults = STARTER_ODDS.get(starter, {}) if starter else {}
    waiting = waiting_stages(plan)
    for stage in stages or {}:
        if stage not in plan.stage_order:
            raise SimulationError(
                f"journey {plan.journey_name!r} has no stage {stage!r}; its stages: {', '.join(plan.stage_order)}"
            )
        if stage not in waiting:
            raise SimulationError(
                f"stage {stage!r} of journey {plan.journey_name!r} has no wait, so customers do nothing there; "
                f"stages with waits: {', '.join(waiting) or 'none'}"
            )
    resolved = {}
    for stage in waiting:
        base = defaults.get(stage, GENERIC_ODDS)
        stage_convert, stage_drop = (stages or {}).get(stage, (None, None))
        try:
            resolved[stage] = StageOdds(
                convert=_first(stage_convert, convert, base.convert), drop=_first(stage_drop, drop, base.drop)
            )
        except SimulationError as error:
            raise SimulationError(f"stage {stage!r}: {error}") from None
    return resolved


def _first(*values: float | None) -> float:
    return next(value for value in values if value is not None)


def parse_probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SimulationError(f"not a probability: {text!r} (write e.g. 0.3)") from None
    if not 0 <= value <= 1:
        raise SimulationError(f"a probability is from 0 to 1, got {text}")
    return value


def parse_stage_odds(text: str) -> tuple[str, float | None, float | None]:
    """``STAGE=CONVERT[,DROP]`` (either side may be empty) as (stage, convert, drop)."""
    stage, sign, values = text.partition("=")
    parts = values.split(",")
    if not sign or not stage.strip() or len(parts) > 2 or not any(part.strip() for part in parts):
        raise SimulationError(f"expected STAGE=CONVERT[,DROP] such as recover=0.3,0.05, got {text!r}")
    convert, drop = [*parts, ""][:2]
    return (
        stage.strip(),
        parse_probability(convert) if convert.strip() else None,
        parse_probability(drop) if drop.strip() else None,
    )
