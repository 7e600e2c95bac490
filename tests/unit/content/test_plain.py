"""The short way of rendering text-and-placeholder templates gives Liquid's output, and leaves to Liquid every case
it does not know (errors included): each template below is rendered both ways with each set of values."""

from __future__ import annotations

import itertools

import pytest
from liquid.exceptions import LiquidError

from engine.content import MAX_OUTPUT_BYTES, environment, parse_template, plain_template
from engine.map.starters import load_template

PLAIN = [
    "Hi {{ profile.first_name | default: 'there' }}, you left {{ event.item_count }} item(s): {{ event.cart_url }}",
    "{{ event.cart_url }}",
    "Plain words {{ profile.first_name }} and {{ journey.name }}. Stop: {{ unsubscribe_url }}",
    'A <b>bold</b> {{ profile.first_name | default: "<i>friend</i>" }} {{ event.total }}',
    "{{- profile.first_name -}}   ,  {{ profile.address.city | default: '' }}",
    "{{ profile['first name'] | default: 'x' }} {{ event.count | default: 'none' }}",
]
NOT_PLAIN = [
    "{% if profile.vip %}VIP{% endif %}",
    "{{ profile.first_name | upcase }}",
    "{{ profile.tags.size }}",
    "{{ profile.tags.first }}",
    "{{ profile.tags[0] }}",
    "{{ event[profile.key] }}",
    "{{ 'literal' }}",
    "{{ profile.first_name | default: profile.last_name }}",
    "{{ profile.first_name | default: 'x', allow_false: true }}",
    "{% comment %}x{% endcomment %}{{ event.total }}",
]
VALUES: list[dict[str, object]] = [
    {"first_name": "Ada", "address": {"city": "Paris"}, "first name": "A B"},
    {"first_name": "<script>alert('x')</script> & \"co\""},
    {"first_name": ""},
    {},
    {"first_name": 0, "address": "not a mapping"},
    {"first_name": -12345678901234567890},
    {"first_name": True, "address": {"city": None}},
    {"first_name": 2.5, "address": {"city": ["a", "b"]}},
    {"first_name": ["A", "<b>"], "address": {"city": {"name": "x"}}},
    {"first_name": "Zoë 日本 ☃"},
    {"first_name": "é" * (MAX_OUTPUT_BYTES // 2 + 1)},
]
EVENTS: list[dict[str, object]] = [
    {"item_count": 2, "cart_url": "https://shop.example/c/1?a=1&b=<2>", "total": 42, "count": 0},
    {"item_count": "", "cart_url": "", "total": "", "count": ""},
    {"cart_url": "x"},
    {"item_count": False, "cart_url": None, "total": 10**30, "count": 1.5},
]


def liquid(source: str, variables: dict[str, object], *, html: bool) -> str | None:
    """Liquid's own output, or None where it fails."""
    template = environment(html=html).from_string(source)
    try:
        return str(template.render(**variables))
    except LiquidError:
        return None


def variable_sets() -> list[dict[str, object]]:
    sets: list[dict[str, object]] = []
    for profile, event in itertools.product(VALUES, EVENTS):
        variables: dict[str, object] = {"profile": profile, "event": event, "journey": {"name": "Cart <rescue>"}}
        sets.append(variables)
        sets.append({**variables, "unsubscribe_url": "https://example.com/u?p=1&c=email"})
    return sets


@pytest.mark.parametrize("html", [False, True])
@pytest.mark.parametrize("source", PLAIN)
def test_gives_liquids_output_or_leaves_it_to_liquid(source: str, html: bool) -> None:
    plain = plain_template(parse_template(source))
    assert plain is not None
    rendered = declined = 0
    for variables in variable_sets():
        text = plain.render(variables, html=html)
        expected = liquid(source, variables, html=html)
        if text is None:
            declined += 1
        else:
            rendered += 1
            assert text == expected, (source, variables)
    # Both ways are taken: the comparison above is not vacuous.
    assert rendered
    assert declined


@pytest.mark.parametrize("source", NOT_PLAIN)
def test_anything_but_text_and_placeholders_is_left_to_liquid(source: str) -> None:
    assert plain_template(parse_template(source)) is None


def test_the_starters_messages_are_plain() -> None:
    doc = load_template("cart_abandonment")
    sources = [
        text
        for node in doc.nodes
        if (content := getattr(node, "content", None)) is not None
        for text in (content.subject, content.body, content.url)
        if "{" in text
    ]
    assert sources
    assert all(plain_template(parse_template(source)) is not None for source in sources)
