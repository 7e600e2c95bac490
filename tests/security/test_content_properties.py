"""Whatever a customer's traits and event hold, rendering a message either gives the message or raises
``ContentRenderError``: nothing else escapes to the runtime or the test send. And no value reaches a body that a
mail client would read as HTML with its markup intact.

Templates are the shipped starters' messages and filter-heavy ones using every filter Liquid has on hostile
values; data is arbitrary JSON-like values with NaN, infinities, huge integers and strings filters trip over.
"""

from __future__ import annotations

import math
import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.content import ContentRenderError, looks_like_html, render_content
from engine.map import MessageContent, SendNode
from engine.map.starters import list_templates, load_template

STARTER_CONTENTS = [
    node.content for name in list_templates() for node in load_template(name).nodes if isinstance(node, SendNode)
]

# Every filter of the environment, each given arguments from the data as well as literals.
FILTERS = [
    "abs",
    "append: event.w",
    "at_least: 1",
    "at_most: event.w",
    "base64_decode",
    "base64_encode",
    "base64_url_safe_decode",
    "base64_url_safe_encode",
    "capitalize",
    "ceil",
    "compact",
    "concat: event.w",
    "date: '%b %d, %Y'",
    "date: event.w",
    "default: 'there'",
    "divided_by: event.w",
    "downcase",
    "escape",
    "escape_once",
    "escapejs",
    "find: 'name', 'a'",
    "find_index: 'name', event.w",
    "first",
    "floor",
    "has: 'name'",
    "join: event.w",
    "last",
    "lstrip",
    "map: 'name'",
    "minus: event.w",
    "modulo: event.w",
    "newline_to_br",
    "plus: event.w",
    "prepend: event.w",
    "reject: 'name'",
    "remove: event.w",
    "remove_first: 'a'",
    "remove_last: 'a'",
    "replace: event.w, event.v",
    "replace_first: 'a', event.w",
    "replace_last: 'a', 'b'",
    "reverse",
    "round",
    "round: event.w",
    "rstrip",
    "safe",
    "size",
    "slice: event.w",
    "slice: 1, event.w",
    "sort",
    "sort: 'name'",
    "sort_natural",
    "split: event.w",
    "squish",
    "strip",
    "strip_html",
    "strip_newlines",
    "sum",
    "sum: 'name'",
    "times: event.w",
    "truncate: event.w",
    "truncatewords: event.w",
    "uniq",
    "upcase",
    "url_decode",
    "url_encode",
    "where: 'name'",
    "where: 'name', event.w",
]
PLAIN_TEXT = "Hi {{ profile.first_name }}, about {{ event.v }}"
STRUCTURAL = [
    *(f"<p>Hi {{{{ profile.first_name | {f} }}}}</p>" for f in ("upcase", "default: 'there'", "append: event.v")),
    PLAIN_TEXT,
    "{{ event.v | split: ',' | reverse | join: event.w | upcase | truncate: 20 }}",
    "{{ event.v | plus: event.w | times: event.v | divided_by: event.w | round: 2 }}",
    "{% for item in event.v %}{{ item.name | default: item }}, {% endfor %}",
    "{% for i in (event.v..event.w) %}{{ i }}{% endfor %}",
    "{{ (1..event.w) | join: ',' }}",
    "{% assign s = event.v %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}",
    "{% if event.v > event.w %}more{% elsif event.v contains event.w %}in{% else %}{{ event.v }}{% endif %}",
    "{% case event.v %}{% when 1 %}one{% when event.w %}w{% else %}{{ event.v | size }}{% endcase %}",
    "{% capture c %}{{ event.v }}{{ event.w }}{% endcapture %}{{ c | size }}",
    "{% tablerow x in event.v cols: event.w %}{{ x }}{% endtablerow %}",
    "{{ event.v[0].name }} {{ event.v.first }} {{ event.v.size }} {{ event.v[event.w] }}",
    "<a href='{{ unsubscribe_url }}'>{{ journey.name }}</a>{{ event.v }}",
]
TEMPLATES = [*STARTER_CONTENTS, *(MessageContent(subject="", body=body, url="") for body in STRUCTURAL)]
NAMES = sorted(
    {
        match
        for content in TEMPLATES
        for text in (content.subject, content.body, content.url)
        for match in re.findall(r"(?:profile|event)\.(\w+)", text)
    }
)

INJECTED = "<img src=x onerror=alert(1)>"
HOSTILE = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        # The largest numbers Python still prints (4300 digits): arithmetic on them makes ones it cannot.
        10**4200,
        -(10**4200),
        2**64,
        -99_999_999_999_999,
        0.0,
        INJECTED,
        "/w==",
        "%ff",
        "1e999",
        "2026-13-45",
        "a,b,c",
        "",
        "\n",
        ["a", "b"],
    ]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
# Hostile values are drawn as often as everything else together, so a few hundred examples meet them all.
VALUES = HOSTILE | st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["name", "a", "b"]), inner, max_size=3),
    max_leaves=12,
)
# The names the templates read, so each example's values meet the filters rather than go unused.
DATA = st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=6)
JOURNEY_NAME = "Property <journey>"
UNSUBSCRIBE_URL = "https://example.com/v1/unsubscribe?t=1&c=email"


def renders_or_refuses(content: MessageContent, profile: dict[str, Any], event: dict[str, Any]) -> None:
    failure: ContentRenderError | None = None
    try:
        rendered = render_content(
            content, profile=profile, event=event, journey_name=JOURNEY_NAME, unsubscribe_url=UNSUBSCRIBE_URL
        )
    except ContentRenderError as error:
        failure = error
    if failure is not None:
        assert str(failure)
        assert failure.field in ("subject", "body", "url")
    elif looks_like_html(rendered.body):
        assert INJECTED not in rendered.body


@settings(max_examples=200, deadline=None)
@given(chosen=st.sampled_from(FILTERS), v=VALUES, w=VALUES)
@example(chosen="round", v=math.nan, w=0)
@example(chosen="date: '%b %d, %Y'", v=-99_999_999_999_999, w=0)
@example(chosen="sum", v=["a", "b"], w=0)
@example(chosen="base64_decode", v="/w==", w=0)
@example(chosen="times: event.w", v=10**4200, w=10**4200)
@example(chosen="append: event.w", v="Hi ", w=INJECTED)
def test_every_filter_on_any_value_gives_text_or_a_content_render_error(chosen: str, v: Any, w: Any) -> None:
    renders_or_refuses(MessageContent(subject="", body=f"{{{{ event.v | {chosen} }}}}", url=""), {}, {"v": v, "w": w})


@settings(max_examples=200, deadline=None)
@given(content=st.sampled_from(TEMPLATES), profile=DATA, event=DATA)
@example(
    content=MessageContent(subject="", body=PLAIN_TEXT, url=""), profile={"first_name": INJECTED}, event={"v": "x"}
)
def test_every_starter_and_structural_template_gives_the_message_or_a_content_render_error(
    content: MessageContent, profile: dict[str, Any], event: dict[str, Any]
) -> None:
    renders_or_refuses(content, profile, event)
