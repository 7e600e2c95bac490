"""Synthetic customers for a live journey and the demo journey: planned from the map, sent through /v1/batch.

Nothing here writes customers to the database directly; they arrive through the public intake.
"""

from engine.simulation.demo import DEMO_SPEED, DEMO_STARTER, compress_waits, demo_map, ensure_demo_journey
from engine.simulation.odds import SimulationError, StageOdds, parse_probability, parse_stage_odds, resolve_odds
from engine.simulation.planner import Choice, CustomerScript, Outcome, SimulationOptions, plan_simulation
from engine.simulation.sender import MAX_BATCH, IntakeClient, IntakeError, Progress, Sender, schedule
from engine.simulation.target import find_target

__all__ = [
    "DEMO_SPEED",
    "DEMO_STARTER",
    "MAX_BATCH",
    "Choice",
    "CustomerScript",
    "IntakeClient",
    "IntakeError",
    "Outcome",
    "Progress",
    "Sender",
    "SimulationError",
    "SimulationOptions",
    "StageOdds",
    "compress_waits",
    "demo_map",
    "ensure_demo_journey",
    "find_target",
    "parse_probability",
    "parse_stage_odds",
    "plan_simulation",
    "resolve_odds",
    "schedule",
]
