"""The Tasks page: the queue of tasks journeys give people (per team, open, overdue, mine or done), and for the
selected task the customer's context: who they are, where they are in which journey and how they got there, what
they were sent, and earlier tasks' notes. Completing a task records an outcome and a note."""

from __future__ import annotations

import reflex as rx

from journey_builder.components.layout import page_header

from .tasks_state import FILTERS, MessageRow, NoteRow, PathRow, TaskRow, TasksState


def _queue_row(row: rx.Var[TaskRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(row.title, on_click=TasksState.select(row.id), cursor="pointer", weight="medium"),
        ),
        rx.table.cell(row.customer),
        rx.table.cell(row.journey),
        rx.table.cell(row.team),
        rx.table.cell(rx.text(row.due, color=rx.cond(row.overdue, "var(--red-11)", "inherit"))),
        rx.table.cell(row.assignee),
        rx.table.cell(rx.badge(row.status, color_scheme=rx.cond(row.overdue, "red", "gray"), variant="soft")),
        rx.table.cell(
            rx.cond(
                row.finished,
                rx.fragment(),
                rx.cond(
                    row.mine,
                    rx.button("Release", size="1", variant="soft", on_click=TasksState.release(row.id)),
                    rx.cond(
                        row.assignee == "unclaimed",
                        rx.button("Claim", size="1", on_click=TasksState.claim(row.id)),
                    ),
                ),
            )
        ),
        data_testid="task-row",
        background=rx.cond(row.id == TasksState.selected, "var(--accent-3)", "transparent"),
    )


def _queue() -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.segmented_control.root(
                *[rx.segmented_control.item(name.title(), value=name) for name in FILTERS],
                value=TasksState.show,
                on_change=TasksState.set_show,
                aria_label="Show",
            ),
            rx.el.select(
                rx.foreach(TasksState.teams, lambda team: rx.el.option(team, value=team)),
                value=TasksState.team,
                on_change=TasksState.set_team,
                aria_label="Team",
                class_name="jb-native-select",
            ),
            rx.spacer(),
            rx.button(rx.icon("refresh-cw", size=14), "Refresh", variant="soft", on_click=TasksState.load),
            align="center",
            spacing="3",
            width="100%",
        ),
        rx.cond(
            TasksState.rows.length() == 0,
            rx.vstack(
                rx.text("No tasks here.", size="2", color_scheme="gray"),
                # A fresh install has no live journey with a human task: say where tasks come from.
                rx.text(
                    "Tasks appear when a customer reaches a Human task card in a live journey, such as "
                    "'Call the admin (CSM)' in the At-risk account save starter.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="1",
                margin_top="1em",
                data_testid="tasks-empty",
            ),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Task", "Customer", "Journey", "Team", "Due", "Assignee", "Status", "")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(TasksState.rows, _queue_row)),
                size="1",
                margin_top="0.5em",
            ),
        ),
        width="100%",
    )


def _path_item(item: rx.Var[PathRow]) -> rx.Component:
    return rx.hstack(
        rx.text(item.at, size="1", color_scheme="gray", min_width="9em"),
        rx.badge(item.kind, variant="soft", color_scheme=rx.cond(item.kind == "event", "amber", "blue")),
        rx.text(item.title, size="2"),
        rx.text(item.detail, size="1", color_scheme="gray"),
        spacing="2",
        align="center",
        data_testid="context-path",
    )


def _message(item: rx.Var[MessageRow]) -> rx.Component:
    return rx.hstack(
        rx.text(item.at, size="1", color_scheme="gray", min_width="9em"),
        rx.badge(item.channel, variant="soft"),
        rx.text(item.step, size="2", weight="medium"),
        rx.badge(item.status, variant="outline", color_scheme="gray"),
        rx.text(item.text, size="1", color_scheme="gray", max_width="28em", truncate=True),
        spacing="2",
        align="center",
        data_testid="context-message",
    )


def _note(item: rx.Var[NoteRow]) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(item.at, size="1", color_scheme="gray"),
            rx.text(item.title, size="2", weight="medium"),
            rx.badge(item.outcome, variant="soft"),
            rx.text(item.by, size="1", color_scheme="gray"),
            spacing="2",
            align="center",
        ),
        rx.text(item.note, size="2", white_space="pre-wrap"),
        spacing="1",
    )


def _section(title: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(rx.heading(title, size="3"), *children, spacing="2", width="100%")


def _complete_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.heading("Record the outcome", size="3"),
            rx.el.select(
                rx.el.option("Choose the outcome", value=""),
                rx.foreach(TasksState.outcomes, lambda outcome: rx.el.option(outcome, value=outcome)),
                name="outcome",
                default_value="",
                aria_label="Outcome",
                class_name="jb-native-select",
            ),
            rx.text_area(name="note", placeholder="Note for the customer's timeline", rows="3", width="100%"),
            rx.button("Complete task", type="submit"),
            spacing="2",
            width="100%",
        ),
        on_submit=TasksState.complete,
        reset_on_submit=True,
    )


def _context() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(TasksState.title, size="5"),
                rx.cond(TasksState.channel != "", rx.badge(TasksState.channel, variant="soft")),
                rx.spacer(),
                rx.text("Due ", TasksState.due, size="2", color_scheme="gray"),
                align="center",
                width="100%",
            ),
            rx.text("Assignee: ", TasksState.assignee, size="2", color_scheme="gray"),
            rx.callout(TasksState.instructions, icon="clipboard-list", width="100%"),
            rx.cond(TasksState.late_note != "", rx.callout(TasksState.late_note, color_scheme="amber", width="100%")),
            _section(
                "Customer",
                rx.heading(TasksState.customer, size="4", data_testid="context-customer"),
                rx.flex(
                    rx.foreach(TasksState.traits, lambda t: rx.badge(t, variant="outline", color_scheme="gray")),
                    wrap="wrap",
                    gap="1",
                ),
                rx.text("Consent: ", TasksState.consent, size="2", color_scheme="gray"),
            ),
            _section(
                "Where they are",
                rx.text(
                    TasksState.journey,
                    " · ",
                    TasksState.stage,
                    " · ",
                    TasksState.step,
                    size="2",
                    weight="medium",
                    data_testid="context-where",
                ),
                rx.cond(
                    TasksState.entry != "", rx.text("Entered with ", TasksState.entry, size="1", color_scheme="gray")
                ),
                rx.vstack(rx.foreach(TasksState.path, _path_item), spacing="1"),
            ),
            _section(
                "Messages sent",
                rx.cond(
                    TasksState.messages.length() == 0,
                    rx.text("Nothing sent yet.", size="2", color_scheme="gray"),
                    rx.vstack(rx.foreach(TasksState.messages, _message), spacing="1"),
                ),
            ),
            _section(
                "Earlier tasks",
                rx.cond(
                    TasksState.earlier.length() == 0,
                    rx.text("No earlier tasks for this customer.", size="2", color_scheme="gray"),
                    rx.vstack(rx.foreach(TasksState.earlier, _note), spacing="2"),
                ),
            ),
            rx.divider(),
            rx.cond(
                TasksState.closed != "",
                rx.callout(
                    "Closed as no longer needed: " + TasksState.closed,
                    color_scheme="gray",
                    width="100%",
                    data_testid="task-closed",
                ),
                rx.cond(
                    TasksState.done != "",
                    rx.callout("Done: " + TasksState.done, color_scheme="green", width="100%"),
                    rx.cond(
                        TasksState.claimed_by_me,
                        _complete_form(),
                        rx.cond(
                            TasksState.unclaimed,
                            rx.button("Claim this task", on_click=TasksState.claim(TasksState.selected)),
                            rx.text("Claimed by ", TasksState.assignee, size="2", color_scheme="gray"),
                        ),
                    ),
                ),
            ),
            spacing="4",
            width="100%",
        ),
        width="100%",
        data_testid="task-context",
    )


def tasks_page() -> rx.Component:
    return rx.vstack(
        page_header("Tasks", "Calls and chats journeys hand to people, with each customer's story."),
        _queue(),
        rx.cond(TasksState.selected != 0, _context()),
        spacing="5",
        width="100%",
    )
