"""``journey compile``, ``template``, ``import`` and ``export``: journey-map files in and out."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.cli.common import (
    PROBLEMS,
    USAGE,
    CommandFailedError,
    actor,
    journey_errors,
    problem_line,
    report,
)
from engine.compiler import Problem, ProblemSeverity, compile_map
from engine.journeys import JourneyNameError, export_map, import_journey
from engine.map import MAX_DOCUMENT_BYTES, JourneyMap, document_text_problem
from engine.map.starters import UnknownTemplateError, list_templates, load_template
from engine.store import session_scope

# --- reading documents ---------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    """The file's bytes, refused (naming the file) when too large or nested too deeply to parse safely."""
    try:
        with path.open("rb") as file:
            # One byte past the bound tells a file is too large, whatever its size or kind (a pipe, a device).
            raw = file.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise CommandFailedError(f"no such file: {path}", USAGE) from None
    except OSError as error:
        raise CommandFailedError(f"cannot read {path}: {error.strerror}", USAGE) from None
    problem = document_text_problem(raw)
    if problem is not None:
        raise CommandFailedError(f"{path} {problem}")
    return raw


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
        # Not ``JourneyMap.from_json``: ``_read`` has just checked what it would check again.
        return JourneyMap.model_validate_json(raw), ()
    except ValidationError as error:
        return None, _document_problems(error, raw)


def _has_errors(problems: Sequence[Problem]) -> bool:
    return any(p.severity is ProblemSeverity.ERROR for p in problems)


# --- commands ------------------------------------------------------------------------------------


def compile_arguments(parser: argparse.ArgumentParser) -> None:
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
        print(report(problems))
    return PROBLEMS if failed else 0


def template_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="print this starter's map; without a name, list the starters")


def template_command(args: argparse.Namespace) -> int:
    if args.name is None:
        for name in list_templates():
            print(name)
        return 0
    try:
        print(load_template(args.name).to_json())
    except UnknownTemplateError as error:
        raise CommandFailedError(str(error), USAGE) from None
    return 0


def file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a journey-map JSON file")


def import_command(args: argparse.Namespace) -> int:
    doc, problems = _load(args.file)
    if doc is None:
        lines = "\n".join(problem_line(p) for p in problems)
        raise CommandFailedError(f"{args.file} is not a journey map; nothing was stored:\n{lines}")
    with session_scope() as session:
        try:
            journey = import_journey(session=session, doc=doc, actor=actor())
        except JourneyNameError as error:
            raise CommandFailedError(f"{args.file} was not stored: {error}") from None
        print(journey.id)
    return 0


def export_command(args: argparse.Namespace) -> int:
    with journey_errors(), session_scope() as session:
        doc = export_map(session=session, journey_id=args.journey_id)
    print(doc.to_json())
    return 0
