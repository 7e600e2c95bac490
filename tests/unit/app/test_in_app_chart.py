"""The KPI page's in-app chart: open and click rates per card, of the messages delivered."""

from __future__ import annotations

from engine.kpis import InAppCard
from journey_builder.kpis.in_app_charts import in_app_rates


def card(node_id: str, delivered: int, opened: int, clicked: int) -> InAppCard:
    return InAppCard(
        node_id=node_id,
        delivered=delivered,
        opened=opened,
        clicked=clicked,
        dismissed=0,
        open_rate=opened / delivered if delivered else None,
        click_rate=clicked / delivered if delivered else None,
    )


def test_each_card_shows_its_open_and_click_rates_with_the_counts() -> None:
    figure = in_app_rates([card("wins", 40, 30, 10), card("next", 0, 0, 0)], {"wins": "In-app: quick wins"})

    opened, clicked = figure.data
    assert (opened.name, clicked.name) == ("Opened", "Clicked")
    assert list(opened.x) == list(clicked.x) == ["In-app: quick wins"]
    assert (list(opened.y), list(clicked.y)) == ([75.0], [25.0])
    assert (list(opened.text), list(clicked.text)) == (["75.0% · 30/40"], ["25.0% · 10/40"])
    assert figure.layout.title.text.startswith("In-app cards")


def test_no_delivery_draws_a_message_not_empty_axes() -> None:
    figure = in_app_rates([card("wins", 0, 0, 0)], {})

    assert figure.data == ()
    assert [a.text for a in figure.layout.annotations] == ["No in-app message reached an inbox in this window"]
