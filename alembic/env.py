"""Alembic environment: the URL comes from engine.store.db, the schema from engine.store.models."""

from __future__ import annotations

from sqlalchemy import pool
from sqlalchemy.engine import create_engine

from alembic import context
from engine.store import database_url, metadata, normalise_url

config = context.config
url = normalise_url(
    config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get("url") or database_url()
)


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
