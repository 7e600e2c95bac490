"""Map -> plan: a pure function that reports every problem at once, and the plan it produces.

The plan is what the runtime runs; its steps, triggers and settings are frozen, JSON-serialisable values.
"""

from engine.compiler.compiler import STANDARD_TRAITS, CompileResult, Problem, ProblemSeverity, compile_map
from engine.compiler.content import variable_paths
from engine.compiler.cron import cron_problem
from engine.compiler.plan import (
    BranchStep,
    Entry,
    ExitStep,
    GoalStep,
    HumanTaskStep,
    Plan,
    PlanArm,
    SendStep,
    SplitStep,
    Step,
    TaskOutcomePath,
    UpdateProfileStep,
    WaitForEventStep,
    WaitStep,
)

__all__ = [
    "STANDARD_TRAITS",
    "BranchStep",
    "CompileResult",
    "Entry",
    "ExitStep",
    "GoalStep",
    "HumanTaskStep",
    "Plan",
    "PlanArm",
    "Problem",
    "ProblemSeverity",
    "SendStep",
    "SplitStep",
    "Step",
    "TaskOutcomePath",
    "UpdateProfileStep",
    "WaitForEventStep",
    "WaitStep",
    "compile_map",
    "cron_problem",
    "variable_paths",
]
