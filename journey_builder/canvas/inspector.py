"""The inspector: a form per node kind for the selected node."""

from __future__ import annotations

import reflex as rx
from reflex.vars import FunctionStringVar

from engine.map import Channel, Operator

from .editor_state import EditorState
from .forms import ArmRow, ConditionRow, PainRow
from .inspector_state import OPPORTUNITIES, PAIN_POINTS, InspectorState
from .overlay_state import OverlayState

CHANNELS = [channel.value for channel in Channel]
OPERATORS = [operator.value for operator in Operator]
UNITS = ["minutes", "hours", "days"]
FORM = EditorState.form


def _key(name: str) -> rx.Var[str]:
    # Inputs are uncontrolled (no server event per keystroke); the key makes them re-read their value
    # when another node or persona is selected or the document is replaced by undo, redo or import.
    return FORM.id + "-" + name + "-" + EditorState.history_version.to_string() + "-" + EditorState.persona


def _label(text: str, *children: rx.Component) -> rx.Component:
    return rx.el.label(rx.el.span(text, class_name="jc-field-label"), *children, class_name="jc-field")


def _text(label: str, field: str, value: rx.Var[str], *, multiline: bool = False, hint: str = "") -> rx.Component:
    props = {
        "default_value": value,
        "key": _key(field),
        "on_blur": lambda v: InspectorState.set_text(field, v),
        "placeholder": hint,
        "class_name": "jc-input",
        "name": field,
    }
    control = rx.el.textarea(rows=6, **props) if multiline else rx.el.input(**props)
    return _label(label, control)


def _select(label: str, options: list[str], value: rx.Var[str], on_change: rx.EventHandler, name: str) -> rx.Component:
    return _label(
        label,
        rx.el.select(
            *[rx.el.option(option.replace("_", " ") or "none", value=option) for option in options],
            value=value,
            on_change=on_change,
            class_name="jc-input",
            name=name,
        ),
    )


def _duration(label: str, field: str, amount: rx.Var[str], unit: rx.Var[str]) -> rx.Component:
    return _label(
        label,
        rx.el.div(
            rx.el.input(
                type="number",
                min="0",
                step="any",
                default_value=amount,
                key=_key(field),
                name=f"{field}_amount",
                on_blur=lambda v: InspectorState.set_duration(field, v, unit),
                class_name="jc-input",
            ),
            rx.el.select(
                *[rx.el.option(u, value=u) for u in UNITS],
                value=unit,
                name=f"{field}_unit",
                on_change=lambda u: InspectorState.set_duration(field, amount, u),
                class_name="jc-input jc-unit",
            ),
            class_name="jc-row",
        ),
    )


def _condition(row: ConditionRow, index: rx.Var[int]) -> rx.Component:
    return rx.el.div(
        rx.el.select(
            rx.el.option("trait", value="trait"),
            rx.el.option("event", value="event"),
            value=row.source,
            on_change=lambda v: InspectorState.update_condition(index, "source", v),
            class_name="jc-input jc-cond-source",
        ),
        rx.el.input(
            default_value=row.field,
            key=_key("cond-field-" + index.to_string()),
            on_blur=lambda v: InspectorState.update_condition(index, "field", v),
            class_name="jc-input",
            placeholder="field",
        ),
        rx.el.select(
            *[rx.el.option(op.replace("_", " "), value=op) for op in OPERATORS],
            value=row.op,
            on_change=lambda v: InspectorState.update_condition(index, "op", v),
            class_name="jc-input jc-cond-op",
        ),
        rx.el.input(
            default_value=row.value,
            key=_key("cond-value-" + index.to_string()),
            on_blur=lambda v: InspectorState.update_condition(index, "value", v),
            class_name="jc-input",
            placeholder="value",
        ),
        rx.el.button(
            rx.icon("x", size=14),
            on_click=InspectorState.remove_condition(index),
            class_name="jc-icon-button",
            title="Remove",
        ),
        class_name="jc-condition",
    )


def _conditions(title: str) -> rx.Component:
    return rx.el.div(
        rx.el.div(
            rx.el.span(title, class_name="jc-field-label"),
            rx.el.select(
                rx.el.option("all must match", value="all"),
                rx.el.option("any may match", value="any"),
                value=FORM.match,
                on_change=InspectorState.set_match,
                class_name="jc-input jc-match",
            ),
            class_name="jc-row jc-between",
        ),
        rx.foreach(FORM.conditions, _condition),
        rx.el.button("+ Add condition", on_click=InspectorState.add_condition, class_name="jc-link-button"),
        class_name="jc-field",
    )


def _arm(arm: ArmRow, index: rx.Var[int]) -> rx.Component:
    return rx.el.div(
        rx.el.input(
            default_value=arm.name,
            key=_key("arm-name-" + index.to_string()),
            on_blur=lambda v: InspectorState.set_arms(index, "name", v),
            class_name="jc-input",
        ),
        rx.el.input(
            type="number",
            min="0",
            max="100",
            default_value=arm.percent.to_string(),
            key=_key("arm-pct-" + index.to_string()),
            on_blur=lambda v: InspectorState.set_arms(index, "percent", v),
            class_name="jc-input jc-percent",
        ),
        rx.el.span("%"),
        rx.el.label(
            rx.el.input(
                type="checkbox",
                checked=arm.holdout,
                on_change=lambda v: InspectorState.set_arms(index, "holdout", rx.cond(v, "true", "false")),
            ),
            "holdout",
            class_name="jc-check",
        ),
        rx.el.button(
            rx.icon("x", size=14), on_click=InspectorState.set_arms(index, "remove", ""), class_name="jc-icon-button"
        ),
        class_name="jc-row",
    )


# Enter in an item's box commits it the way leaving the box does (its blur sends the edit), so both send the
# same one edit; run in the browser, with no server event per key.
_ENTER_LEAVES = FunctionStringVar.create('(key) => { if (key === "Enter") { document.activeElement?.blur(); } }')


def _item_text(field: str, index: rx.Var[int], text: rx.Var[str], label: str) -> rx.Component:
    # A one-line text area that grows with its text, so a long item reads in full, wrapped.
    return rx.el.textarea(
        default_value=text,
        key=_key(f"{field}-" + index.to_string()) + "-" + text,
        name=f"{field}_text",
        rows=1,
        on_blur=lambda value: InspectorState.edit_item(field, index, value),
        on_key_down=_ENTER_LEAVES,
        class_name="jc-input jc-pill-input",
        aria_label=label,
    )


def _pain(pain: PainRow) -> rx.Component:
    return rx.el.div(
        _item_text(PAIN_POINTS, pain.index, pain.text, "Pain point"),
        rx.cond(
            pain.shared,
            rx.el.span("all", class_name="jc-shared-tag", title="Drawn for every persona, not only this one"),
        ),
        rx.el.select(
            rx.el.option("low", value="low"),
            rx.el.option("medium", value="medium"),
            rx.el.option("high", value="high"),
            value=pain.severity,
            on_change=lambda v: InspectorState.set_severity(pain.index, v),
            class_name="jc-input jc-severity",
            aria_label="Severity",
        ),
        rx.el.button(
            rx.icon("x", size=14),
            on_click=InspectorState.remove_item(PAIN_POINTS, pain.index),
            class_name="jc-icon-button",
            title="Remove this pain point",
            type="button",
        ),
        class_name="jc-pill jc-pill-pain",
        data_testid="pain-point",
    )


def _opportunity(text: rx.Var[str], index: rx.Var[int]) -> rx.Component:
    return rx.el.div(
        _item_text(OPPORTUNITIES, index, text, "Opportunity"),
        rx.el.button(
            rx.icon("x", size=14),
            on_click=InspectorState.remove_item(OPPORTUNITIES, index),
            class_name="jc-icon-button",
            title="Remove this opportunity",
            type="button",
        ),
        class_name="jc-pill jc-pill-opp",
        data_testid="opportunity",
    )


def _adder(field: str, placeholder: str) -> rx.Component:
    """Enter adds what is typed and empties the box, keeping the focus there; leaving the box adds it too."""
    return rx.el.form(
        rx.el.input(
            placeholder=placeholder,
            key=_key(f"add-{field}") + "-" + InspectorState.adder_nonce.to_string(),
            name=f"add_{field}",
            on_blur=lambda text: InspectorState.add_typed(field, text),
            class_name="jc-input",
            aria_label=placeholder,
        ),
        on_submit=lambda form: InspectorState.add_item(field, form),
        reset_on_submit=True,
    )


def _experience() -> rx.Component:
    return rx.el.div(
        rx.el.h4("Customer experience", class_name="jc-section-title"),
        rx.cond(
            EditorState.persona_name != "",
            rx.el.p("Drawn for ", EditorState.persona_name, class_name="jc-muted", id="jc-experience-persona"),
        ),
        _label(
            "Emotion",
            rx.el.div(
                rx.el.span("frustrated", class_name="jc-muted"),
                rx.slider(
                    min=-2,
                    max=2,
                    step=1,
                    default_value=[FORM.emotion],
                    key=_key("emotion"),
                    on_value_commit=InspectorState.set_emotion,
                    disabled=OverlayState.read_only,
                    class_name="jc-emotion-slider",
                ),
                rx.el.span("delighted", class_name="jc-muted"),
                class_name="jc-row",
            ),
        ),
        rx.el.div(
            rx.el.span("Pain points", class_name="jc-field-label"),
            rx.foreach(FORM.pain_points, _pain),
            _adder(PAIN_POINTS, "Add a pain point…"),
            class_name="jc-field",
        ),
        rx.el.div(
            rx.el.span("Opportunities", class_name="jc-field-label"),
            rx.foreach(FORM.opportunities, _opportunity),
            _adder(OPPORTUNITIES, "Add an opportunity…"),
            class_name="jc-field",
        ),
        _text("Notes", "notes", FORM.notes, multiline=True),
    )


def _kind_fields() -> rx.Component:
    return rx.match(
        FORM.kind,
        (
            "trigger",
            rx.el.div(
                _select(
                    "Customers enter",
                    ["event", "trait", "schedule"],
                    FORM.trigger_type,
                    InspectorState.set_trigger_type,
                    "trigger_type",
                ),
                rx.match(
                    FORM.trigger_type,
                    (
                        "event",
                        rx.el.div(
                            _text("When this event arrives", "event", FORM.event, hint="e.g. cart_abandoned"),
                            _text(
                                "Event properties", "trigger_detail", FORM.trigger_detail, hint="cart_id, cart_total"
                            ),
                            _conditions("Only when"),
                        ),
                    ),
                    ("trait", _conditions("When the profile matches")),
                    rx.el.div(
                        _text("Schedule (cron)", "trigger_detail", FORM.trigger_detail, hint="0 9 * * 1"),
                        _conditions("For customers who match"),
                    ),
                ),
            ),
        ),
        (
            "wait",
            rx.el.div(
                _duration("Wait for", "duration", FORM.duration_amount, FORM.duration_unit),
                _label(
                    "Then until local time",
                    rx.el.input(
                        type="time",
                        default_value=FORM.until_local_time,
                        key=_key("until"),
                        on_blur=lambda v: InspectorState.set_text("until_local_time", v),
                        class_name="jc-input",
                    ),
                ),
            ),
        ),
        (
            "wait_for_event",
            rx.el.div(
                _text("Event", "event", FORM.event),
                _text("Correlate on property", "correlate_on", FORM.correlate_on, hint="e.g. cart_id"),
                _duration("Time out after", "timeout", FORM.timeout_amount, FORM.timeout_unit),
            ),
        ),
        ("branch", _conditions("Yes when")),
        (
            "split",
            _label(
                "Arms",
                rx.foreach(FORM.arms, _arm),
                rx.el.button("+ Add arm", on_click=InspectorState.set_arms(0, "add", ""), class_name="jc-link-button"),
            ),
        ),
        ("send", _message()),
        ("update_profile", _text("Set traits (one per line: name = value)", "traits", FORM.traits, multiline=True)),
        ("exit", _text("Reason", "reason", FORM.reason)),
        (
            "human_task",
            rx.el.div(
                _text("Team or role", "team", FORM.team, hint="e.g. csm, support"),
                _text("Instructions (Liquid)", "instructions", FORM.instructions, multiline=True),
                _duration("Due within", "due", FORM.due_amount, FORM.due_unit),
                _text(
                    "Outcomes (one per line; each is a path, plus 'overdue')",
                    "outcomes",
                    FORM.outcomes,
                    multiline=True,
                ),
            ),
        ),
        rx.fragment(),
    )


def _message() -> rx.Component:
    return rx.el.div(
        _select("Channel", CHANNELS, FORM.channel, lambda v: InspectorState.set_channel("channel", v), "channel"),
        _select(
            "Fallback channel",
            ["", *CHANNELS],
            FORM.fallback_channel,
            lambda v: InspectorState.set_channel("fallback_channel", v),
            "fallback_channel",
        ),
        _text("Subject", "subject", FORM.subject),
        _text("Body", "body", FORM.body, multiline=True),
        rx.el.div(
            rx.el.span("Insert placeholder", class_name="jc-field-label"),
            rx.el.div(
                rx.foreach(
                    EditorState.placeholders,
                    lambda name: rx.el.button(
                        name, on_click=InspectorState.insert_placeholder(name), class_name="jc-chip-button"
                    ),
                ),
                class_name="jc-chips",
            ),
            class_name="jc-field",
        ),
        _text("Link / webhook URL", "url", FORM.url),
        rx.cond(FORM.channel == "in_app", _text("Button label", "button", FORM.button, hint="Open")),
    )


def inspector() -> rx.Component:
    """The selected node's form; on a map open view-only every control in it is disabled."""
    return rx.cond(
        FORM.id != "",
        rx.el.div(
            rx.el.div(
                rx.el.span(FORM.kind_label, class_name="jc-kind-tag", data_kind=FORM.kind),
                rx.el.span(FORM.id, class_name="jc-muted jc-mono"),
                class_name="jc-row jc-between",
            ),
            rx.el.fieldset(
                _text("Title", "title", FORM.title),
                rx.cond(
                    (FORM.kind == "touchpoint") | (FORM.kind == "human_task"),
                    _select(
                        "Channel",
                        ["", *CHANNELS],
                        FORM.channel,
                        lambda v: InspectorState.set_channel("channel", v),
                        "channel",
                    ),
                ),
                _kind_fields(),
                _experience(),
                disabled=OverlayState.read_only,
                class_name="jc-inspector-fieldset",
            ),
            class_name="jc-inspector",
            id="jc-inspector",
        ),
        rx.cond(
            OverlayState.read_only,
            rx.el.div(
                rx.el.p("Select a card to see its details.", class_name="jc-empty-title"),
                class_name="jc-inspector-empty",
            ),
            rx.el.div(
                rx.el.p("Select a card to edit it.", class_name="jc-empty-title"),
                rx.el.p(
                    "Drag a kind from the palette onto a lane, connect cards by dragging from a handle, "
                    "and shift-drag to select several.",
                    class_name="jc-muted",
                ),
                class_name="jc-inspector-empty",
            ),
        ),
    )
