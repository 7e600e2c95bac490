"""Live KPIs of a journey: the overlay's stage and node figures, percentiles, the KPI page's report and windows.

Every figure is a query over what the engine records (transitions, runs, messages): no second bookkeeping.
"""

from engine.kpis.figures import (
    ArmResult,
    ChannelRecovery,
    DailyConversion,
    EdgeShare,
    GoalConversion,
    InAppCard,
    JourneyOverlay,
    MetricsFilter,
    NodeMetrics,
    SplitResult,
    StageMetrics,
    VersionNotFoundError,
)
from engine.kpis.in_app import in_app_cards
from engine.kpis.metrics import journey_overlay
from engine.kpis.nodes import node_metrics
from engine.kpis.outcomes import (
    conversion_over_time,
    goal_conversion,
    recovery_by_channel,
    split_results,
    two_proportion_p_value,
)
from engine.kpis.percentiles import HINTS, SAMPLE_PERIOD, SAMPLE_SLOTS
from engine.kpis.report import (
    VELOCITY_BUCKETS,
    Cohort,
    DayCount,
    JourneyReport,
    JourneyTrend,
    StageLine,
    StageVelocity,
    StageView,
    VelocityBucket,
    cohort,
    journey_report,
    journey_trends,
    stage_lines,
    velocity_distribution,
)
from engine.kpis.scope import TRANSITION
from engine.kpis.stages import stage_metrics
from engine.kpis.summary import overlay_summary
from engine.kpis.tasks import OutcomeShare, TaskCardMetrics, task_card_metrics
from engine.kpis.windows import (
    WINDOW_LABELS,
    KpiWindow,
    WindowError,
    parse_day,
    parse_version,
    parse_window,
    window_filter,
)

__all__ = [
    "HINTS",
    "SAMPLE_PERIOD",
    "SAMPLE_SLOTS",
    "TRANSITION",
    "VELOCITY_BUCKETS",
    "WINDOW_LABELS",
    "ArmResult",
    "ChannelRecovery",
    "Cohort",
    "DailyConversion",
    "DayCount",
    "EdgeShare",
    "GoalConversion",
    "InAppCard",
    "JourneyOverlay",
    "JourneyReport",
    "JourneyTrend",
    "KpiWindow",
    "MetricsFilter",
    "NodeMetrics",
    "OutcomeShare",
    "SplitResult",
    "StageLine",
    "StageMetrics",
    "StageVelocity",
    "StageView",
    "TaskCardMetrics",
    "VelocityBucket",
    "VersionNotFoundError",
    "WindowError",
    "cohort",
    "conversion_over_time",
    "goal_conversion",
    "in_app_cards",
    "journey_overlay",
    "journey_report",
    "journey_trends",
    "node_metrics",
    "overlay_summary",
    "parse_day",
    "parse_version",
    "parse_window",
    "recovery_by_channel",
    "split_results",
    "stage_lines",
    "stage_metrics",
    "task_card_metrics",
    "two_proportion_p_value",
    "velocity_distribution",
    "window_filter",
]
