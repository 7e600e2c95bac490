"""Reflex configuration: the app reads the same database as the engine, the CLI and the migrations."""

import reflex as rx
from reflex.plugins import SitemapPlugin

from engine.store.db import database_url

config = rx.Config(
    app_name="journey_builder",
    db_url=database_url(),
    telemetry_enabled=False,
    disable_plugins=[SitemapPlugin],
)
