"""A journey's forecast: the window's stored events replayed through the engine's own decisions (entries,
reactions, the walk, the delivery policy) with a simulated clock, on copies of the customers, writing and
sending nothing; the figures laid out as the live KPI overlay's.
"""

from engine.forecast.figures import (
    ArmForecast,
    ChannelForecast,
    Forecast,
    ForecastError,
    NodeForecast,
    Range,
    StageForecast,
)
from engine.forecast.garbage import REPLAY_GC_THRESHOLDS, fewer_collections
from engine.forecast.parts import MAX_PROCESSES, PARALLEL_FROM, PROCESSES_SETTING, process_count
from engine.forecast.service import DEFAULT_SINCE, forecast, forecast_plan, parse_since, window_end
from engine.forecast.summary import forecast_summary

__all__ = [
    "DEFAULT_SINCE",
    "MAX_PROCESSES",
    "PARALLEL_FROM",
    "PROCESSES_SETTING",
    "REPLAY_GC_THRESHOLDS",
    "ArmForecast",
    "ChannelForecast",
    "Forecast",
    "ForecastError",
    "NodeForecast",
    "Range",
    "StageForecast",
    "fewer_collections",
    "forecast",
    "forecast_plan",
    "forecast_summary",
    "parse_since",
    "process_count",
    "window_end",
]
