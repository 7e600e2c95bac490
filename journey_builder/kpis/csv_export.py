"""The KPI page's CSV: every chart's table in one file, section after section, for a spreadsheet.

Spreadsheets run a cell that starts like a formula, and the CSV holds text people typed (journey, stage,
split and arm names) and text from the data (channels). Every text cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is written with a leading ``'``, as OWASP recommends, so it
reads as text. Figures are not text: counts are written as numbers, and the export's own decimals
(:class:`_Figure`) as it formatted them, so a negative emotion stays -1.50.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.kpis import JourneyReport
from journey_builder.kpis.formatting import CHANNEL_LABELS, NO_CHANNEL, _percent, bucket_column, bucket_text
from journey_builder.kpis.stage_charts import _stage_names, _tracked
from journey_builder.kpis.trend_charts import DAY, LONG_SERIES, _from_first_activity


class _Figure(str):
    """A number the export formatted itself (an optional sign, digits, a point): a figure, not text."""

    __slots__ = ()


# OWASP's list of the characters a spreadsheet takes as the start of a formula; a line feed is added,
# which some spreadsheets skip before reading on.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _cell(value: object) -> object:
    if isinstance(value, str) and not isinstance(value, _Figure) and value.startswith(_FORMULA_START):
        return f"'{value}"
    return value


def _hours(value: timedelta | None) -> str:
    return "" if value is None else _Figure(f"{value.total_seconds() / 3600:.2f}")


def _pct(part: int, whole: int) -> str:
    share = _percent(part, whole)
    return "" if share is None else _Figure(f"{share:.1f}")


def _rate(rate: float | None) -> str:
    return "" if rate is None else _Figure(f"{100 * rate:.1f}")


def _window_text(report: JourneyReport, window_label: str) -> str:
    f = report.filter
    since = f"{f.since:%Y-%m-%d %H:%M} UTC" if f.since else "the first customer"
    until = f"{f.until:%Y-%m-%d %H:%M} UTC" if f.until else "now"
    return f"{window_label} ({since} to {until})"


def report_csv(report: JourneyReport, *, window_label: str, generated_at: datetime) -> str:
    """Every chart's table in one CSV, section after section, for a spreadsheet.

    One file rather than one per chart: an executive forwards or opens one thing. Each section starts
    with its title, then a header row whose column names carry the units. A byte-order mark lets
    Excel read the UTF-8 (stage names, arrows) correctly.
    """
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    names = _stage_names(report.stages)
    f = report.filter
    _rows(
        writer,
        [
            ["Journey", report.journey_name],
            ["Window", _window_text(report, window_label)],
            ["Version", f"v{f.version}" if f.version is not None else "All versions"],
            ["Generated", f"{generated_at:%Y-%m-%d %H:%M} UTC"],
        ],
    )
    c = report.cohort
    _section(
        writer,
        "Headline",
        [
            "Entered (customers)",
            "Reached goal (customers)",
            "Goal conversion (%)",
            "Dropped off (customers)",
            "In flight (customers)",
        ],
        [[c.entered, c.reached_goal, _rate(c.goal_rate), c.dropped_off, c.in_flight]],
    )
    _section(
        writer,
        "Stage funnel",
        [
            "Stage",
            "Entered (customers)",
            "Moved on (customers)",
            "Conversion to next stage (%)",
            "Dropped off (customers)",
            "Reached goal (customers)",
            "In flight (customers)",
            "Median time to next stage (hours)",
            "90th percentile time to next stage (hours)",
        ],
        [
            [
                names.get(m.stage_id, m.stage_id),
                m.entered,
                "" if m.moved_on is None else m.moved_on,
                _rate(m.conversion),
                m.dropped_off,
                m.reached_goal,
                m.in_flight,
                _hours(m.velocity_median),
                _hours(m.velocity_p90),
            ]
            for m in _tracked(report.stages, report.stage_metrics)
        ],
    )
    untracked = {s.id for s in report.stages if not s.tracked}
    buckets = [b.label for b in report.velocity[0].buckets] if report.velocity else []
    _section(
        writer,
        "Time to the next stage",
        ["From stage", "To stage", "Moved on (customers)", *[f"{label} (customers)" for label in buckets]],
        [
            [
                names.get(v.stage_id, v.stage_id),
                names.get(v.next_stage_id, v.next_stage_id),
                v.customers,
                *[b.customers for b in v.buckets],
            ]
            for v in report.velocity
            if v.stage_id not in untracked
        ],
    )
    bucket_header, goals_header = bucket_column(report.daily[0].size if report.daily else DAY)
    _section(
        writer,
        "Goal conversion over time",
        [
            bucket_header,
            "Entered (customers)",
            "Of them reached goal (customers)",
            "Goal conversion (%)",
            goals_header,
        ],
        [
            [bucket_text(d.start, d.size), d.entered, d.converted, _pct(d.converted, d.entered), d.goals_reached]
            for d in (_from_first_activity(report.daily) if len(report.daily) > LONG_SERIES else report.daily)
        ],
    )
    recovered = sum(r.customers for r in report.recovery)
    _section(
        writer,
        "Recovery by channel",
        ["Last channel before the goal", "Customers", "Share of customers who reached the goal (%)"],
        [
            [
                CHANNEL_LABELS.get(r.channel, r.channel) if r.channel else NO_CHANNEL,
                r.customers,
                _pct(r.customers, recovered),
            ]
            for r in report.recovery
        ],
    )
    _section(
        writer,
        "Split results",
        [
            "Split",
            "Arm",
            "Holdout",
            "Customers",
            "Reached goal (customers)",
            "Goal conversion (%)",
            "p-value against the first arm",
            "Small sample",
        ],
        [
            [
                report.node_titles.get(s.node_id, s.node_id),
                a.arm,
                "yes" if a.holdout else "no",
                a.customers,
                a.reached_goal,
                _rate(a.rate),
                "" if a.p_value is None else _Figure(f"{a.p_value:.4f}"),
                "yes" if a.small_sample else "no",
            ]
            for s in report.splits
            for a in s.arms
        ],
    )
    if report.in_app:
        # Only journeys that send in-app messages have the section: the same figures as the map's overlay.
        _section(
            writer,
            "In-app cards",
            [
                "Card",
                "Delivered to inboxes (messages)",
                "Opened (messages)",
                "Clicked (messages)",
                "Dismissed (messages)",
                "Open rate (%)",
                "Click rate (%)",
            ],
            [
                [
                    report.node_titles.get(card.node_id, card.node_id),
                    card.delivered,
                    card.opened,
                    card.clicked,
                    card.dismissed,
                    _rate(card.open_rate),
                    _rate(card.click_rate),
                ]
                for card in report.in_app
            ],
        )
    _section(
        writer,
        "Human tasks",
        [
            "Task card",
            "Tasks",
            "Done within due time",
            "Overdue",
            "Closed without outcome",
            "Open",
            "Median time to outcome (h)",
            "Outcome",
            "Outcome (tasks)",
            "Outcome (%)",
        ],
        _task_rows(report),
    )
    by_id = {m.stage_id: m for m in _tracked(report.stages, report.stage_metrics)}
    _section(
        writer,
        "Emotion and drop-off by stage",
        ["Stage", "Emotion (-2 to +2)", "Entered (customers)", "Dropped off (customers)", "Dropped off (%)"],
        [
            [
                s.name,
                "" if s.emotion is None else _Figure(f"{s.emotion:+.2f}"),
                by_id[s.id].entered if s.id in by_id else "",
                by_id[s.id].dropped_off if s.id in by_id else "",
                _pct(by_id[s.id].dropped_off, by_id[s.id].entered) if s.id in by_id else "",
            ]
            for s in report.stages
        ],
    )
    return out.getvalue()


def _task_rows(report: JourneyReport) -> list[list[object]]:
    """A line per outcome of each task card (one line with no outcome while none is recorded)."""
    rows: list[list[object]] = []
    for t in report.tasks:
        median = None if t.median_to_outcome_seconds is None else timedelta(seconds=t.median_to_outcome_seconds)
        card = [report.node_titles.get(t.node_id, t.node_id), t.created, t.done_within_due, t.overdue]
        card += [t.closed_without_outcome, t.open]
        shares = [[o.outcome, o.tasks, _pct(o.tasks, t.done)] for o in t.outcomes] or [["", "", ""]]
        rows += [[*card, _hours(median), *share] for share in shares]
    return rows


def _section(writer: Any, title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    writer.writerow([])
    writer.writerow([title])
    _rows(writer, [header, *rows])


def _rows(writer: Any, rows: Sequence[Sequence[object]]) -> None:
    writer.writerows([_cell(value) for value in row] for row in rows)
