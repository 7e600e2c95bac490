"""The compiler's rules about one node's own settings: triggers, waits, branches, splits, sends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

from engine.compiler.cron import cron_problem
from engine.compiler.problems import Problem, describe, error, warning
from engine.map import (
    OVERDUE_LABEL,
    SENDABLE_CHANNELS,
    BranchNode,
    Channel,
    Condition,
    EventTrigger,
    HumanTaskNode,
    MessageContent,
    Node,
    Operator,
    ScheduleTrigger,
    SendNode,
    SplitNode,
    TraitTrigger,
    TriggerNode,
    UpdateProfileNode,
    WaitForEventNode,
    WaitNode,
)

_VALUELESS_OPS = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})
_SENDABLE_NAMES = "email, SMS, push, in-app or webhook"
# Arms may be given as thirds (33.333...); a sum within this of 100 is 100.
_PERCENT_TOLERANCE = 1e-6


def node_problems(nodes: list[Node]) -> Iterator[Problem]:
    for node in nodes:
        match node:
            case TriggerNode():
                yield from _trigger_problems(node)
            case WaitNode():
                yield from _wait_problems(node)
            case WaitForEventNode():
                if node.timeout <= timedelta(0):
                    yield error(
                        "non_positive_timeout",
                        f"The timeout of {describe(node)} must be longer than zero.",
                        node=node.id,
                    )
            case BranchNode():
                if not node.conditions:
                    yield error(
                        "branch_without_conditions", f"{describe(node)} has no condition to test.", node=node.id
                    )
                yield from _condition_problems(node, node.conditions)
            case SplitNode():
                yield from _split_problems(node)
            case SendNode():
                yield from _send_problems(node)
            case HumanTaskNode():
                yield from _task_problems(node)
            case UpdateProfileNode():
                if not node.set_traits:
                    yield warning("empty_profile_update", f"{describe(node)} changes no trait.", node=node.id)


def _condition_problems(node: Node, conditions: list[Condition]) -> Iterator[Problem]:
    for condition in conditions:
        if condition.op not in _VALUELESS_OPS and condition.value in (None, "", []):
            yield error(
                "condition_missing_value",
                f"The condition on '{condition.field}' in {describe(node)} needs a value to compare with.",
                node=node.id,
            )


def _trigger_problems(node: TriggerNode) -> Iterator[Problem]:
    trigger = node.trigger
    if isinstance(trigger, EventTrigger):
        yield from _condition_problems(node, trigger.filters)
    elif isinstance(trigger, TraitTrigger):
        yield from _condition_problems(node, trigger.conditions)
    elif isinstance(trigger, ScheduleTrigger):
        problem = cron_problem(trigger.cron)
        if problem:
            yield error("invalid_cron", f"The schedule of {describe(node)} is not valid: {problem}.", node=node.id)
        yield from _condition_problems(node, trigger.audience)


def _wait_problems(node: WaitNode) -> Iterator[Problem]:
    if node.duration is None and node.until_local_time is None:
        yield error(
            "wait_needs_one_of",
            f"{describe(node)} needs a duration or a time of day to wait until.",
            node=node.id,
        )
    elif node.duration is not None and node.until_local_time is not None:
        yield error(
            "wait_needs_one_of",
            f"{describe(node)} has both a duration and a time of day; keep one of them.",
            node=node.id,
        )
    elif node.duration is not None and node.duration <= timedelta(0):
        yield error("non_positive_wait", f"{describe(node)} must last longer than zero.", node=node.id)


def _split_problems(node: SplitNode) -> Iterator[Problem]:
    if len(node.arms) < 2:
        yield error("split_needs_two_arms", f"{describe(node)} needs at least two arms.", node=node.id)
    counts = Counter(arm.name for arm in node.arms)
    for name in sorted(name for name, count in counts.items() if count > 1):
        yield error("duplicate_arm_name", f"{describe(node)} has two arms named '{name}'.", node=node.id)
    total = sum(arm.percent for arm in node.arms)
    if node.arms and abs(total - 100) > _PERCENT_TOLERANCE:
        yield error(
            "split_percent_sum",
            f"The arms of {describe(node)} add up to {total:g}%; they must add up to 100%.",
            node=node.id,
        )


def _missing_content(channel: Channel, content: MessageContent) -> list[str]:
    """The parts of ``content`` a message on ``channel`` needs but does not have."""
    if channel is Channel.EMAIL:
        return [part for part, text in (("subject", content.subject), ("body", content.body)) if not text.strip()]
    if channel is Channel.WEBHOOK:
        return [] if content.url.strip() else ["URL"]
    return [] if content.body.strip() else ["body"]


def _send_problems(node: SendNode) -> Iterator[Problem]:
    if node.channel is None:
        yield error("send_without_channel", f"{describe(node)} has no channel: choose {_SENDABLE_NAMES}.", node=node.id)
        return
    if node.channel not in SENDABLE_CHANNELS:
        yield error(
            "channel_not_sendable",
            f"{describe(node)} sends on {node.channel.value}, which the engine cannot deliver; "
            f"draw it as a touchpoint or choose {_SENDABLE_NAMES}.",
            node=node.id,
        )
        return
    missing = _missing_content(node.channel, node.content)
    if missing:
        yield error("send_without_content", f"{describe(node)} has no {' or '.join(missing)} to send.", node=node.id)
    fallback = node.fallback_channel
    if fallback is not None and (fallback is node.channel or fallback not in SENDABLE_CHANNELS):
        yield error(
            "invalid_fallback_channel",
            f"The fallback of {describe(node)} must be another channel the engine can deliver ({_SENDABLE_NAMES}).",
            node=node.id,
        )


def _task_problems(node: HumanTaskNode) -> Iterator[Problem]:
    if not node.outcomes:
        yield error(
            "task_without_outcomes",
            f"{describe(node)} has no outcomes: list what the person can record, such as 'reached' or 'no answer'.",
            node=node.id,
        )
    if any(not outcome.strip() for outcome in node.outcomes):
        yield error("blank_task_outcome", f"{describe(node)} has an outcome without a name.", node=node.id)
    counts = Counter(node.outcomes)
    for name in sorted(name for name, count in counts.items() if count > 1):
        yield error("duplicate_task_outcome", f"{describe(node)} has two outcomes named '{name}'.", node=node.id)
    if OVERDUE_LABEL in counts:
        yield error(
            "reserved_task_outcome",
            f"{describe(node)} has an outcome named '{OVERDUE_LABEL}', which is the path taken when the task is "
            "late; name the outcome otherwise.",
            node=node.id,
        )
    if node.due <= timedelta(0):
        yield error("non_positive_due", f"The due time of {describe(node)} must be longer than zero.", node=node.id)
