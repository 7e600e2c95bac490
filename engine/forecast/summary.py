"""A forecast as plain data for the command line and scripts, keyed by stage and node id like the live overlay's
summary (``engine.kpis.overlay_summary``). Only renames and flattens; it computes nothing."""

from __future__ import annotations

from typing import Any

from engine.forecast.figures import Forecast


def forecast_summary(forecast: Forecast) -> dict[str, Any]:
    data = forecast.model_dump(mode="json")
    return {
        "forecast": True,
        "journey_id": forecast.journey_id,
        "journey": forecast.journey_name,
        "version": forecast.version,
        "since": data["since"],
        "until": data["until"],
        "events": forecast.events,
        "customers": forecast.customers,
        "entered": forecast.entered,
        "goal_reached": data["goal_reached"],
        "stages": {stage.pop("stage_id"): stage for stage in data["stages"]},
        "nodes": {node.pop("node_id"): node for node in data["nodes"]},
        "arms": data["arms"],
        "channels": {channel.pop("channel"): channel for channel in data["channels"]},
        "notes": data["notes"],
    }
