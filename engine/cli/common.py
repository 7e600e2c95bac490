"""What the ``journey`` command groups share: the exit statuses and ``CommandFailedError``, the
problem report, the audit actor, the journey-id argument, the database URL as shown, and tables."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import make_url

from engine.compiler import Problem, ProblemSeverity
from engine.journeys import ArchiveError, CompileFailedError, JourneyNotFoundError
from engine.runtime import LifecycleError
from engine.store import database_url

PROG = "journey"

# Exit statuses: 1 means "the input has problems or the journey refused the action", 2 means "the
# command could not run as asked", 130 (128 + SIGINT, as shells report it) means Ctrl-C.
PROBLEMS = 1
USAGE = 2
INTERRUPTED = 130


class CommandFailedError(Exception):
    """Ends a command with a message on stderr and the given exit status."""

    def __init__(self, message: str, status: int = PROBLEMS) -> None:
        super().__init__(message)
        self.status = status


def problem_line(problem: Problem) -> str:
    where = f"node={problem.node_id}" if problem.node_id else f"edge={problem.edge_id}" if problem.edge_id else "map"
    # Padded to the longest severity ("warning") so the ids line up in a column.
    return f"{problem.severity.value:<7}  {where}  {problem.code}: {problem.message}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _summary(problems: Sequence[Problem]) -> str:
    if not problems:
        return "ok: no problems"
    errors = sum(p.severity is ProblemSeverity.ERROR for p in problems)
    return f"{_count(errors, 'error')}, {_count(len(problems) - errors, 'warning')}"


def report(problems: Sequence[Problem]) -> str:
    """The problems one per line, then the summary: what ``journey compile`` prints."""
    return "\n".join([*(problem_line(p) for p in problems), _summary(problems)])


def id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journey_id", type=int, metavar="ID", help="the journey's id")


def shown_url() -> str:
    return make_url(database_url()).render_as_string(hide_password=True)


def actor() -> str:
    """Who the audit log names for what this command does: the operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment nor in the password database
        user = "unknown"
    return f"cli:{user}"


@contextmanager
def journey_errors() -> Iterator[None]:
    """A refusal from the journey service ends the command with its message (the service wrote nothing)."""
    try:
        yield
    except (JourneyNotFoundError, LifecycleError, ArchiveError) as error:
        raise CommandFailedError(str(error)) from None
    except CompileFailedError as error:
        raise CommandFailedError(f"nothing was published, the draft has errors:\n{report(error.problems)}") from None


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, the last one left ragged."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows)
    return "\n".join(["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), *lines])
