"""``journey db upgrade`` and ``journey seed``: the database's schema and starter journeys."""

from __future__ import annotations

import argparse

from engine.cli.common import shown_url
from engine.journeys import seed_starters
from engine.store import session_scope, upgrade_database


def db_upgrade_command(_: argparse.Namespace) -> int:
    upgrade_database()
    print(f"migrated {shown_url()} to the newest schema")
    return 0


def seed_command(_: argparse.Namespace) -> int:
    with session_scope() as session:
        created = seed_starters(session=session)
        for journey in created:
            print(f"created journey {journey.id}: {journey.name}")
    if not created:
        print("every starter journey is already stored; nothing created")
    return 0
