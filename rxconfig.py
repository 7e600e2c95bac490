"""Reflex configuration: the app reads the same database as the engine, the CLI and the migrations.

The backend (which also serves the engine's HTTP API) listens on 127.0.0.1 unless JOURNEY_BACKEND_HOST says
otherwise, and answers cross-origin requests only from the app's own pages and the origins in
JOURNEY_CORS_ORIGINS. Reflex's own REFLEX_BACKEND_HOST and REFLEX_CORS_ALLOWED_ORIGINS still override both.
"""

import os

import reflex as rx
from reflex.plugins import SitemapPlugin

from engine.store import database_url


def _allowed_origins() -> list[str]:
    """The app's own pages (on the frontend's port, and the backend's when it serves the pages itself) on both
    loopback names, and the comma-separated origins of JOURNEY_CORS_ORIGINS."""
    # `reflex run --frontend-port/--backend-port` hands the ports it chose to the backend in these variables.
    ports = dict.fromkeys(
        (os.environ.get("REFLEX_FRONTEND_PORT") or "3000", os.environ.get("REFLEX_BACKEND_PORT") or "8000")
    )
    own = [f"http://{host}:{port}" for port in ports for host in ("localhost", "127.0.0.1")]
    configured = (origin.strip().rstrip("/") for origin in os.environ.get("JOURNEY_CORS_ORIGINS", "").split(","))
    return own + [origin for origin in configured if origin]


config = rx.Config(
    app_name="journey_builder",
    db_url=database_url(),
    telemetry_enabled=False,
    backend_host=os.environ.get("JOURNEY_BACKEND_HOST") or "127.0.0.1",
    cors_allowed_origins=_allowed_origins(),
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
