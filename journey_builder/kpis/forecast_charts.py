"""The forecast's chart: sends per hour of the day (UTC), one stacked series per channel."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from engine.forecast import ChannelForecast
from journey_builder.kpis.charts import ACCENT, DROP, NEUTRAL, WARNING, _axis, _empty, _layout, plain
from journey_builder.kpis.formatting import CHANNEL_LABELS

CHANNEL_COLORS = {"email": ACCENT, "sms": WARNING, "push": DROP}
HEIGHT = 300


def sends_per_hour(channels: Sequence[ChannelForecast]) -> go.Figure:
    """How many messages the forecast would send in each hour of the day (UTC), by channel."""
    sending = [c for c in channels if c.sent]
    figure = go.Figure(
        layout=_layout(
            "Forecast: sends per hour",
            "Messages per hour of the day, UTC",
            height=HEIGHT,
            legend_rows=1 if len(sending) > 1 else 0,
        )
    )
    if not sending:
        return _empty(figure, "Nothing would be sent in this window")
    hours = [f"{hour:02d}" for hour in range(24)]
    for channel in sending:
        figure.add_bar(
            x=hours,
            y=list(channel.sends_by_hour),
            name=plain(CHANNEL_LABELS.get(channel.channel, channel.channel)),
            marker={"color": CHANNEL_COLORS.get(channel.channel, NEUTRAL)},
            hovertemplate="%{x}:00 UTC: %{y:,} %{fullData.name}<extra></extra>",
        )
    figure.update_layout(
        barmode="stack",
        xaxis=_axis("hour of the day (UTC)", type="category"),
        yaxis=_axis("messages"),
    )
    return figure
