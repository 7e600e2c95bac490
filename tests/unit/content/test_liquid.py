from __future__ import annotations

from collections.abc import Mapping

import pytest

from engine.content import ContentRenderError, parse_template, render_content
from engine.map import MessageContent


def make_content(*, subject: str = "", body: str = "", url: str = "") -> MessageContent:
    return MessageContent(subject=subject, body=body, url=url)


def render(
    content: MessageContent,
    *,
    profile: Mapping[str, object] | None = None,
    event: Mapping[str, object] | None = None,
    journey_name: str = "Cart rescue",
    unsubscribe_url: str = "https://example.com/unsubscribe/7/email",
) -> MessageContent:
    return render_content(
        content,
        profile={"first_name": "Ada", "email": "ada@example.com"} if profile is None else profile,
        event={"cart_id": "c-42", "total": 99.5} if event is None else event,
        journey_name=journey_name,
        unsubscribe_url=unsubscribe_url,
    )


def test_renders_profile_event_journey_and_unsubscribe_values_in_every_field() -> None:
    content = make_content(
        subject="{{ profile.first_name }}, your cart is waiting",
        body="Cart {{ event.cart_id }} holds ${{ event.total }}. From {{ journey.name }}. Stop: {{ unsubscribe_url }}",
        url="https://shop.example.com/cart/{{ event.cart_id }}",
    )

    rendered = render(content)

    assert rendered == make_content(
        subject="Ada, your cart is waiting",
        body="Cart c-42 holds $99.5. From Cart rescue. Stop: https://example.com/unsubscribe/7/email",
        url="https://shop.example.com/cart/c-42",
    )


def test_text_without_placeholders_is_returned_unchanged() -> None:
    content = make_content(subject="Hello", body="Plain text, 100% {not liquid}", url="")

    assert render(content) == content


def test_default_filter_fills_a_missing_trait_and_upcase_transforms_it() -> None:
    content = make_content(body="Hi {{ profile.first_name | default: 'there' | upcase }}!")

    assert render(content, profile={}).body == "Hi THERE!"
    assert render(content, profile={"first_name": "ada"}).body == "Hi ADA!"


def test_output_is_not_html_escaped() -> None:
    content = make_content(body="{{ profile.company }}")

    assert render(content, profile={"company": "Smith & <Sons>"}).body == "Smith & <Sons>"


def test_an_if_on_an_optional_property_does_not_raise() -> None:
    content = make_content(body="{% if event.coupon %}Use {{ event.coupon }}{% else %}No coupon{% endif %}")

    assert render(content, event={}).body == "No coupon"
    assert render(content, event={"coupon": "SAVE10"}).body == "Use SAVE10"


@pytest.mark.parametrize(
    ("field", "content", "variable"),
    [
        ("subject", make_content(subject="Hi {{ profile.nickname }}"), "profile.nickname"),
        ("body", make_content(body="Total {{ event.cart.total }}"), "event.cart.total"),
        ("url", make_content(url="https://x.example/{{ event.order_id }}"), "event.order_id"),
        ("body", make_content(body="{{ profile.first_name | upcase }}"), "profile.first_name"),
    ],
)
def test_a_missing_variable_raises_an_error_naming_it_and_the_field(
    field: str, content: MessageContent, variable: str
) -> None:
    with pytest.raises(ContentRenderError) as caught:
        render(content, profile={}, event={"cart": {}})

    assert caught.value.field == field
    assert caught.value.variable == variable
    assert variable in str(caught.value)
    assert field in str(caught.value)


def test_a_null_value_counts_as_missing_rather_than_rendering_blank() -> None:
    with pytest.raises(ContentRenderError, match=r"profile\.first_name"):
        render(make_content(body="Hi {{ profile.first_name }}"), profile={"first_name": None})


def test_a_nested_null_value_counts_as_missing() -> None:
    with pytest.raises(ContentRenderError, match=r"event\.cart\.total"):
        render(make_content(body="{{ event.cart.total }}"), event={"cart": {"total": None}})


def test_a_null_value_takes_the_default_as_a_missing_one_does_by_either_way_of_rendering() -> None:
    """Text and placeholders only (the short way), and with a filter (Liquid)."""
    profile = {"first_name": None, "address": {"city": None}}
    short = "Hi {{ profile.first_name | default: 'there' }} in {{ profile.address.city | default: 'town' }}"
    assert render(make_content(body=short), profile=profile).body == "Hi there in town"
    filtered = "Hi {{ profile.first_name | default: 'there' | upcase }}"
    assert render(make_content(body=filtered), profile=profile).body == "Hi THERE"


def test_an_empty_unsubscribe_url_is_missing_when_the_content_uses_it() -> None:
    with pytest.raises(ContentRenderError, match="unsubscribe_url"):
        render(make_content(body="Stop: {{ unsubscribe_url }}"), unsubscribe_url="")

    assert render(make_content(body="No link"), unsubscribe_url="").body == "No link"


def test_an_unknown_top_level_name_is_named() -> None:
    with pytest.raises(ContentRenderError) as caught:
        render(make_content(body="{{ customer.name }}"))

    assert caught.value.variable == "customer"


def test_invalid_liquid_raises_a_render_error_for_the_field() -> None:
    with pytest.raises(ContentRenderError, match="subject could not be rendered") as caught:
        render(make_content(subject="Hi {{ profile.first_name "))

    assert caught.value.variable is None


def test_a_runaway_loop_is_stopped() -> None:
    with pytest.raises(ContentRenderError, match="loop iteration limit"):
        render(make_content(body="{% for i in (1..1000000) %}x{% endfor %}"))


def test_parsed_templates_are_cached_by_source_text() -> None:
    source = "Cached {{ profile.first_name }} for the cache test"
    before = parse_template.cache_info()

    first = render(make_content(body=source), profile={"first_name": "Ada"})
    second = render(make_content(body=source), profile={"first_name": "Grace"})
    after = parse_template.cache_info()

    assert (first.body, second.body) == ("Cached Ada for the cache test", "Cached Grace for the cache test")
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 1
    assert parse_template(source) is parse_template(source)
