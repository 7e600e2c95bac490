"""The KPI page's in-app cards: each card's open and click rates, side by side, from the report's figures."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from engine.kpis import InAppCard
from journey_builder.kpis.charts import ACCENT, ACCENT_SOFT, _axis, _empty, _layout, _nice_top, plain
from journey_builder.kpis.formatting import format_rate


def in_app_rates(cards: Sequence[InAppCard], titles: dict[str, str]) -> go.Figure:
    """Open and click rate per in-app card, of the messages that reached customers' inboxes in the window."""
    figure = go.Figure(
        layout=_layout("In-app cards", "Opened and clicked (%) of the messages delivered to inboxes", legend_rows=1)
    )
    shown = [card for card in cards if card.delivered]
    if not shown:
        return _empty(figure, "No in-app message reached an inbox in this window")
    names = [plain(titles.get(card.node_id, card.node_id)) for card in shown]
    top = 0.0
    for label, color, rates, counts in (
        ("Opened", ACCENT_SOFT, [c.open_rate or 0.0 for c in shown], [c.opened for c in shown]),
        ("Clicked", ACCENT, [c.click_rate or 0.0 for c in shown], [c.clicked for c in shown]),
    ):
        percents = [100 * rate for rate in rates]
        top = max(top, *percents)
        figure.add_bar(
            x=names,
            y=percents,
            name=label,
            marker={"color": color},
            text=[f"{format_rate(r)} · {n:,}/{c.delivered:,}" for r, n, c in zip(rates, counts, shown, strict=True)],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=f"%{{x}}: %{{y:.1f}}% {label.lower()}<extra></extra>",
        )
    figure.update_layout(
        barmode="group",
        xaxis=_axis(showgrid=False),
        yaxis=_axis("Share of delivered (%)", range=[0, _nice_top(max(top, 1.0) * 1.25)], ticksuffix="%"),
    )
    return figure
