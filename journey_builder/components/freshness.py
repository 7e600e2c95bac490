"""How fresh a page's figures are, and the browser-side timer that refreshes them (assets/dashboard/freshness.jsx)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import Var


def _none() -> tuple[()]:
    return ()


class Freshness(rx.Component):
    """ "Updated 12 s ago · figures of 23:51:04 UTC", and a call of ``on_refresh`` every ``interval_ms``
    while the page is open and its tab visible."""

    library = "$/public/dashboard/freshness.jsx"
    tag = "Freshness"

    # Changes at every refresh: the age counts from when it last changed.
    stamp: Var[float]
    at: Var[str]
    interval_ms: Var[int]

    on_refresh: rx.EventHandler[_none]


freshness = Freshness.create
