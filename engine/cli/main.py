"""The ``journey`` command line: check and move journey-map files, publish and run journeys, create
users (the first admin), issue, list and revoke ingestion keys and API tokens, migrate the database
and run the engine (``journey worker``).

Every subcommand is a small function taking the parsed arguments and returning the exit status;
``COMMANDS`` lists them, so adding one is a function and a line. The functions live in one module
per command group (``maps``, ``db``, ``journeys``, ``accounts``, ``simulate``, ``worker``), what
they share in ``common``. The database is the one ``DATABASE_URL`` names (see ``engine.store.db``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.cli import in_app
from engine.cli.accounts import (
    key_create_command,
    key_list_command,
    key_revoke_command,
    name_argument,
    secret_id_argument,
    token_arguments,
    token_create_command,
    token_list_command,
    token_revoke_command,
    user_create_arguments,
    user_create_command,
    user_list_command,
)
from engine.cli.common import INTERRUPTED, PROBLEMS, PROG, CommandFailedError, id_argument, shown_url
from engine.cli.db import db_upgrade_command, seed_command
from engine.cli.forecast import forecast_arguments, forecast_command
from engine.cli.journeys import (
    launch_command,
    pause_command,
    publish_command,
    resume_arguments,
    resume_command,
    stop_arguments,
    stop_command,
)
from engine.cli.kpis import kpis_arguments, kpis_command
from engine.cli.maps import (
    compile_arguments,
    compile_command,
    export_command,
    file_argument,
    import_command,
    template_arguments,
    template_command,
)
from engine.cli.simulate import demo_arguments, demo_command, simulate_arguments, simulate_command
from engine.cli.worker import worker_arguments, worker_command


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


COMMANDS: tuple[Command, ...] = (
    Command(("compile",), "check a journey-map file and list its problems", compile_command, compile_arguments),
    Command(("template",), "list the starter journeys, or print one's map", template_command, template_arguments),
    Command(("import",), "store a journey-map file as a new journey and print its id", import_command, file_argument),
    Command(("export",), "print a journey's draft map", export_command, id_argument),
    Command(("db", "upgrade"), "apply the database migrations (alembic upgrade head)", db_upgrade_command),
    Command(("seed",), "store the starter journeys that are not stored yet", seed_command),
    Command(("publish",), "compile a journey's draft and freeze it as the next version", publish_command, id_argument),
    Command(("launch",), "open a journey to entries on its newest version", launch_command, id_argument),
    Command(("pause",), "hold a live journey: no entries, no sends", pause_command, id_argument),
    Command(("resume",), "continue a paused journey", resume_command, resume_arguments),
    Command(("stop",), "end a journey, now or once its customers finish (--drain)", stop_command, stop_arguments),
    Command(("key", "create"), "create an ingestion write key and print it", key_create_command, name_argument),
    Command(("key", "list"), "list the write keys (their first characters, never the keys)", key_list_command),
    Command(
        ("key", "revoke"), "revoke a write key: intake refuses it from now on", key_revoke_command, secret_id_argument
    ),
    Command(("token", "create"), "create an API bearer token and print it", token_create_command, token_arguments),
    Command(("token", "list"), "list the API tokens (their first characters, never the tokens)", token_list_command),
    Command(
        ("token", "revoke"),
        "revoke an API token: the API refuses it from now on",
        token_revoke_command,
        secret_id_argument,
    ),
    Command(
        ("inapp", "secret"),
        "print the secret customers' in-app tokens are signed with (made if missing; --rotate for a new one)",
        in_app.secret_command,
        in_app.secret_arguments,
    ),
    Command(
        ("inapp", "token"),
        "print a token for one customer's in-app inbox, signed with the secret",
        in_app.token_command,
        in_app.token_arguments,
    ),
    Command(
        ("user", "create"),
        "create a user (the first admin, say); asks for the password",
        user_create_command,
        user_create_arguments,
    ),
    Command(("user", "list"), "list the users with their roles", user_list_command),
    Command(
        ("simulate",),
        "send simulated customers of a live journey through the public /v1/batch intake",
        simulate_command,
        simulate_arguments,
    ),
    Command(
        ("demo",),
        "store, publish and launch the demo journey (a starter with faster waits)",
        demo_command,
        demo_arguments,
    ),
    Command(
        ("kpis",),
        "a journey's KPIs for a window: the overlay's figures, as tables or JSON",
        kpis_command,
        kpis_arguments,
    ),
    Command(
        ("forecast",),
        "what a journey version (or its draft) would do, replayed over a past window of events; writes nothing",
        forecast_command,
        forecast_arguments,
    ),
    Command(("worker",), "run the engine in the foreground until SIGINT or SIGTERM", worker_command, worker_arguments),
)

GROUP_HELP: dict[tuple[str, ...], str] = {
    ("db",): "the database: migrations",
    ("inapp",): "in-app messages: the secret that signs customers' tokens",
    ("key",): "ingestion write keys",
    ("token",): "API bearer tokens",
    ("user",): "people who sign in to the app",
}


# --- wiring --------------------------------------------------------------------------------------


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Journey Builder: journey maps and their engine.")
    groups: dict[tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]] = {
        (): parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    }
    for command in commands:
        for depth in range(1, len(command.path)):
            prefix = command.path[:depth]
            if prefix not in groups:
                group = groups[prefix[:-1]].add_parser(prefix[-1], help=GROUP_HELP.get(prefix, ""))
                groups[prefix] = group.add_subparsers(title="commands", metavar="COMMAND", required=True)
        sub = groups[command.path[:-1]].add_parser(command.path[-1], help=command.help, description=command.help)
        if command.arguments is not None:
            command.arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except CommandFailedError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return error.status
    except (OperationalError, ProgrammingError) as error:
        print(
            f"{PROG}: the database at {shown_url()} cannot be used ({error.orig}); "
            f"if it was never migrated, run `{PROG} db upgrade`",
            file=sys.stderr,
        )
        return PROBLEMS
    except KeyboardInterrupt:
        # Ctrl-C before a command could set up its own handling (the worker handles it once started).
        print(f"{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
