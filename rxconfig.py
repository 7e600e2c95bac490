"""Reflex configuration: the app reads the same database as the engine, the CLI and the migrations."""

import reflex as rx
from reflex.plugins import SitemapPlugin

from engine.store import database_url

config = rx.Config(
    app_name="journey_builder",
    db_url=database_url(),
    telemetry_enabled=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(
                accent_color="violet", gray_color="slate", radius="large", scaling="100%", panel_background="solid"
            ),
        ),
    ],
    # The sitemap plugin warns at every compile that no deploy_url is set; an internal tool has no sitemap.
    disable_plugins=[SitemapPlugin],
    show_built_with_reflex=False,
)
