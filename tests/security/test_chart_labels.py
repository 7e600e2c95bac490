"""Plotly renders a subset of HTML (links included) in labels, ticks, legends and hovers, so a stage, split
or arm name from a map, or a channel from the data, is drawn as plain text: its < > & are escaped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import plotly.graph_objects as go
import pytest

from engine.kpis import ChannelRecovery, StageView
from journey_builder.kpis.goal_charts import recovery_by_channel, split_results
from journey_builder.kpis.stage_charts import emotion_and_drop_off, stage_funnel, velocity_distribution
from tests.unit.app.test_kpi_charts import METRICS, SPLIT, STAGES, VELOCITY

LINK = '<a href="https://attacker.example/login">Sign in again</a>'
ESCAPED = '&lt;a href="https://attacker.example/login"&gt;Sign in again&lt;/a&gt;'
HOSTILE_STAGES = tuple(
    StageView(id=s.id, name=f"{s.name} {LINK}", emotion=s.emotion, tracked=s.tracked) for s in STAGES
)
HOSTILE_SPLIT = SPLIT.model_copy(
    update={"arms": tuple(a.model_copy(update={"arm": f"{a.arm} & {LINK}"}) for a in SPLIT.arms)}
)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)
    elif hasattr(value, "tolist"):
        yield from strings(value.tolist())


FIGURES = {
    "funnel": lambda: stage_funnel(HOSTILE_STAGES, METRICS),
    "velocity": lambda: velocity_distribution(HOSTILE_STAGES, VELOCITY, METRICS),
    "emotion": lambda: emotion_and_drop_off(HOSTILE_STAGES, METRICS),
    "recovery": lambda: recovery_by_channel(
        (ChannelRecovery(channel=LINK, customers=3), ChannelRecovery(channel="sms", customers=2))
    ),
    "splits": lambda: split_results((HOSTILE_SPLIT,), {"ab": f"Reminder {LINK}"}),
}


@pytest.mark.parametrize("name", FIGURES)
def test_no_text_from_a_map_or_the_data_reaches_a_figure_as_markup(name: str) -> None:
    figure: go.Figure = FIGURES[name]()

    found = list(strings(figure.to_plotly_json()))

    assert not [text for text in found if "<a" in text]
    assert any(ESCAPED in text for text in found)


def test_escaped_labels_keep_the_charts_own_markup_and_match_their_annotations() -> None:
    velocity = velocity_distribution(HOSTILE_STAGES, VELOCITY, METRICS)
    splits = split_results((HOSTILE_SPLIT,), {"ab": "A/B <i>test</i>"})

    first_row = velocity.data[0].y[0]
    assert first_row.startswith(f"Sign up {ESCAPED} → Trial {ESCAPED}<br><span style=")
    groups, arms = (list(level) for level in splits.data[0].x)
    assert groups == ["A/B &lt;i&gt;test&lt;/i&gt;"] * 3
    assert arms[0] == f"control &amp; {ESCAPED}"
    # Each p-value note sits on its arm's bar: the same escaped category, and the first arm's name escaped.
    assert [list(a.x) for a in splits.layout.annotations] == [[groups[1], arms[1]], [groups[2], arms[2]]]
    assert all(a.text.endswith(f"vs control &amp; {ESCAPED}") for a in splits.layout.annotations)
