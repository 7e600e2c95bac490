"""The ``journey`` command line: check and move journey-map files, manage the database.

Every subcommand is a small function taking the parsed arguments and returning the exit status;
``COMMANDS`` lists them, so adding one is a function and a line. The database is the one
``DATABASE_URL`` names (see ``engine.store.db``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.compiler import Problem, ProblemSeverity, compile_map
from engine.journeys import JourneyNotFoundError, create_journey, export_map, seed_starters
from engine.mapdoc import JourneyMap
from engine.store.db import database_url, session_scope, upgrade_database
from engine.templates import UnknownTemplateError, list_templates, load_template

PROG = "journey"

# Exit statuses: 1 means "the input has problems", 2 means "the command could not run as asked".
PROBLEMS = 1
USAGE = 2


class CommandFailedError(Exception):
    """Ends a command with a message on stderr and the given exit status."""

    def __init__(self, message: str, status: int = PROBLEMS) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


# --- reading documents ---------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CommandFailedError(f"no such file: {path}", USAGE) from None
    except OSError as error:
        raise CommandFailedError(f"cannot read {path}: {error.strerror}", USAGE) from None


def _where(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _document_problems(error: ValidationError, raw: bytes) -> tuple[Problem, ...]:
    """One ``invalid_document`` problem per validation error, tied to its node or edge when it has one."""
    try:
        data: Any = json.loads(raw)
    except ValueError:
        data = None
    problems = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        ids: dict[str, str | None] = {"nodes": None, "edges": None}
        if len(loc) >= 2 and loc[0] in ids and isinstance(loc[1], int) and isinstance(data, dict):
            items = data.get(str(loc[0]))
            item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                ids[str(loc[0])] = item["id"]
            # Pydantic names the node kind it tried (the union's tag); the designer needs the field.
            if isinstance(item, dict) and len(loc) > 2 and loc[2] == item.get("kind"):
                loc = loc[:2] + loc[3:]
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(
            Problem(
                code="invalid_document",
                message=f"{_where(loc)}: {message}" if loc else message,
                node_id=ids["nodes"],
                edge_id=ids["edges"],
            )
        )
    return tuple(problems)


def _load(path: Path) -> tuple[JourneyMap | None, tuple[Problem, ...]]:
    raw = _read(path)
    try:
        return JourneyMap.model_validate_json(raw), ()
    except ValidationError as error:
        return None, _document_problems(error, raw)


def _problem_line(problem: Problem) -> str:
    where = f"node={problem.node_id}" if problem.node_id else f"edge={problem.edge_id}" if problem.edge_id else "map"
    return f"{problem.severity.value}  {where}  {problem.code}: {problem.message}"


def _has_errors(problems: Sequence[Problem]) -> bool:
    return any(p.severity is ProblemSeverity.ERROR for p in problems)


# --- commands ------------------------------------------------------------------------------------


def _compile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a journey-map JSON file")
    parser.add_argument("--json", action="store_true", help='print {"ok": ..., "problems": [...]} instead of lines')


def compile_command(args: argparse.Namespace) -> int:
    doc, problems = _load(args.file)
    if doc is not None:
        problems = compile_map(doc).problems
    failed = _has_errors(problems)
    if args.json:
        print(json.dumps({"ok": not failed, "problems": [p.model_dump(mode="json") for p in problems]}, indent=2))
    else:
        for problem in problems:
            print(_problem_line(problem))
        errors = sum(p.severity is ProblemSeverity.ERROR for p in problems)
        print(f"{errors} error(s), {len(problems) - errors} warning(s)" if problems else "no problems")
    return PROBLEMS if failed else 0


def _template_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="print this starter's map; without a name, list the starters")


def template_command(args: argparse.Namespace) -> int:
    if args.name is None:
        for name in list_templates():
            print(name)
        return 0
    try:
        print(load_template(args.name).to_json())
    except UnknownTemplateError as error:
        raise CommandFailedError(str(error)) from None
    return 0


def _file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a journey-map JSON file")


def import_command(args: argparse.Namespace) -> int:
    doc, problems = _load(args.file)
    if doc is None:
        lines = "\n".join(_problem_line(p) for p in problems)
        raise CommandFailedError(f"{args.file} is not a journey map; nothing was stored:\n{lines}")
    with session_scope() as session:
        journey = create_journey(session=session, doc=doc)
        print(journey.id)
    return 0


def _id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journey_id", type=int, metavar="ID", help="the journey's id")


def export_command(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            doc = export_map(session=session, journey_id=args.journey_id)
    except JourneyNotFoundError as error:
        raise CommandFailedError(str(error)) from None
    print(doc.to_json())
    return 0


def _shown_url() -> str:
    return make_url(database_url()).render_as_string(hide_password=True)


def db_upgrade_command(_: argparse.Namespace) -> int:
    upgrade_database()
    print(f"migrated {_shown_url()} to the newest schema")
    return 0


def seed_command(_: argparse.Namespace) -> int:
    with session_scope() as session:
        created = seed_starters(session=session)
        for journey in created:
            print(f"created journey {journey.id}: {journey.name}")
    if not created:
        print("every starter journey is already stored; nothing created")
    return 0


COMMANDS: tuple[Command, ...] = (
    Command(("compile",), "check a journey-map file and list its problems", compile_command, _compile_arguments),
    Command(("template",), "list the starter journeys, or print one's map", template_command, _template_arguments),
    Command(("import",), "store a journey-map file as a new journey and print its id", import_command, _file_argument),
    Command(("export",), "print a journey's draft map", export_command, _id_argument),
    Command(("db", "upgrade"), "apply the database migrations (alembic upgrade head)", db_upgrade_command),
    Command(("seed",), "store the starter journeys that are not stored yet", seed_command),
)

GROUP_HELP: dict[tuple[str, ...], str] = {("db",): "the database: migrations"}


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
            f"{PROG}: the database at {_shown_url()} cannot be used ({error.orig}); "
            f"if it was never migrated, run `{PROG} db upgrade`",
            file=sys.stderr,
        )
        return PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
