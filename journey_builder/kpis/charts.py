"""The look every KPI figure shares: palette, template, head geometry, layout and axes, the empty state.

Every chart shares one calm style: a left-aligned title with a subtitle that says what is counted
and in which unit, light grid lines, no mode bar, a legend only where there are several series.
Nothing here queries anything; the page's state passes in what :mod:`engine.kpis.report` returned.
"""

from __future__ import annotations

import html
from typing import Any, Final

import plotly.graph_objects as go

FONT: Final = 'Inter, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif'
INK: Final = "#1c2024"
MUTED: Final = "#60646c"
GRID: Final = "#e8e8ec"
ACCENT: Final = "#6e56cf"
ACCENT_SOFT: Final = "#d4cafe"
NEUTRAL: Final = "#b9bbc6"
DROP: Final = "#e5484d"
WARNING: Final = "#ab6400"
# Fast to slow: violets from dark (quickest) to light, then amber and coral for the slow tail.
BUCKET_COLORS: Final = ("#3e2a8c", "#5b44b8", "#7c66d8", "#a394ea", "#c9bff5", "#f5c38b", "#ec8e7b")
# Segment labels in white on the three darkest violets, in ink on the rest.
BUCKET_TEXT: Final = ("white", "white", "white", INK, INK, INK, INK)
# Below this share a segment is too narrow for its label; the hover still gives it.
MIN_LABELLED_SHARE: Final = 8.0


PLOT_CONFIG: Final = {"displayModeBar": False, "responsive": True}
SPARKLINE_CONFIG: Final = {"displayModeBar": False, "responsive": False}
# Every figure carries this small template, and the page hands the same one to rx.plotly, which
# would otherwise lay plotly's default (grey plot area, white grid) over the figures.
TEMPLATE: Final = go.layout.Template(
    layout={
        "font": {"family": FONT, "size": 12, "color": INK},
        "colorway": [ACCENT, DROP, NEUTRAL, WARNING],
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "xaxis": {"gridcolor": GRID, "linecolor": GRID, "zeroline": False},
        "yaxis": {"gridcolor": GRID, "linecolor": GRID, "zeroline": False},
    }
)
CHART_HEIGHT: Final = 360


# Pixel geometry of the head of every chart: title, subtitle below it, then the legend's rows.
TITLE_TOP: Final = 10
LEGEND_TOP: Final = 62
LEGEND_ROW: Final = 22


def plain(text: str) -> str:
    """Text from a map or the data (a stage, split or arm name, a channel) as a figure must carry it.

    Plotly draws a subset of HTML in titles, ticks, legends, bar texts and hovers, links included, so a
    name holding markup would become a link in an executive's chart; with < > & written as entities,
    plotly shows the characters themselves.
    """
    return html.escape(text, quote=False)


def _layout(title: str, subtitle: str, *, height: int = CHART_HEIGHT, legend_rows: int = 0) -> dict[str, Any]:
    """The shared look; positions are in pixels from the top, so no height makes the head overlap."""
    return {
        "template": TEMPLATE,
        "title": {
            "text": title,
            "subtitle": {"text": subtitle, "font": {"size": 12, "color": MUTED}},
            "x": 0,
            "xref": "container",
            "xanchor": "left",
            "pad": {"l": 6},
            "y": 1 - TITLE_TOP / height,
            "yref": "container",
            "yanchor": "top",
            "font": {"size": 16, "color": INK, "weight": 600},
        },
        "font": {"family": FONT, "size": 12, "color": INK},
        "height": height,
        "margin": {"l": 16, "r": 24, "t": LEGEND_TOP + LEGEND_ROW * legend_rows + 8, "b": 48, "autoexpand": True},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "showlegend": legend_rows > 0,
        "legend": {
            "orientation": "h",
            "x": 0,
            "xref": "container",
            "xanchor": "left",
            "y": 1 - LEGEND_TOP / height,
            "yref": "container",
            "yanchor": "top",
            "font": {"size": 11, "color": MUTED},
            "traceorder": "normal",
        },
        "hoverlabel": {"font": {"family": FONT, "size": 12}, "bgcolor": "white", "bordercolor": GRID},
        "bargap": 0.35,
    }


def _axis(title: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 12, "color": MUTED}, "standoff": 8},
        "gridcolor": GRID,
        "linecolor": GRID,
        "zeroline": False,
        "tickfont": {"size": 11, "color": MUTED},
        "automargin": True,
        "fixedrange": True,
        **extra,
    }


def _empty(figure: go.Figure, message: str) -> go.Figure:
    figure.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "font": {"size": 13, "color": MUTED},
            }
        ],
    )
    return figure


def _count_tick(top: int) -> int | None:
    """One tick per customer on a short count axis (no "0.5 customers"); plotly's choice on longer ones."""
    return 1 if top <= 6 else None


def _nice_top(percent: float) -> float:
    """The top of a percentage axis: a round number above the highest value, at most 100."""
    for top in (10.0, 20.0, 25.0, 40.0, 50.0, 60.0, 80.0, 100.0):
        if percent * 1.1 <= top:
            return top
    return 100.0
