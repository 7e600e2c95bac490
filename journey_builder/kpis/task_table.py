"""The KPI page's table of human-task cards: the engine's ``task_card_metrics`` (as the overlay and the CSV get
them) as rows of text."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import timedelta

import reflex as rx

from engine.kpis import TaskCardMetrics
from journey_builder.canvas.overlay_view import count, percent, short_duration


@dataclasses.dataclass(frozen=True)
class TaskKpiRow:
    card: str
    tasks: str
    in_time: str
    overdue: str
    closed: str
    open: str
    median: str
    outcomes: str


def task_rows(tasks: Sequence[TaskCardMetrics], titles: Mapping[str, str]) -> list[TaskKpiRow]:
    return [
        TaskKpiRow(
            card=titles.get(t.node_id, t.node_id),
            tasks=count(t.created),
            in_time=count(t.done_within_due),
            overdue=count(t.overdue),
            closed=count(t.closed_without_outcome),
            open=count(t.open),
            median="—"
            if t.median_to_outcome_seconds is None
            else short_duration(timedelta(seconds=t.median_to_outcome_seconds)),
            outcomes=" · ".join(f"{o.outcome} {percent(o.share)}" for o in t.outcomes) or "none recorded yet",
        )
        for t in tasks
    ]


def task_table(rows: rx.Var[list[TaskKpiRow]]) -> rx.Component:
    headers = (
        "Task card",
        "Tasks",
        "Done in time",
        "Overdue",
        "Closed without outcome",
        "Open",
        "Median to outcome",
        "Outcomes",
    )
    return rx.card(
        rx.heading("Human tasks", size="3"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(
                rx.foreach(
                    rows,
                    lambda r: rx.table.row(
                        rx.table.cell(r.card),
                        rx.table.cell(r.tasks),
                        rx.table.cell(r.in_time),
                        rx.table.cell(r.overdue),
                        rx.table.cell(r.closed),
                        rx.table.cell(r.open),
                        rx.table.cell(r.median),
                        rx.table.cell(r.outcomes),
                        data_testid="task-kpi-row",
                    ),
                )
            ),
            size="1",
        ),
        width="100%",
        data_testid="kpi-tasks",
    )
