"""The ``journey`` command line: check and move journey-map files, publish and run journeys, create
users (the first admin), issue, list and revoke ingestion keys and API tokens, migrate the database
and run the engine (``journey worker``).

Every subcommand is a small function taking the parsed arguments and returning the exit status;
``COMMANDS`` lists them, so adding one is a function and a line. The database is the one
``DATABASE_URL`` names (see ``engine.store.db``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import random
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.accounts.access import (
    Role,
    SecretNotFoundError,
    SecretSummary,
    create_api_token,
    create_write_key,
    list_api_tokens,
    list_write_keys,
    revoke_api_token,
    revoke_write_key,
)
from engine.accounts.users import PASSWORD_MIN, AccountError, create_user, list_users
from engine.compiler.compiler import Problem, ProblemSeverity, compile_map
from engine.delivery.channels.settings import ChannelSettingsError
from engine.journeys.service import (
    CompileFailedError,
    JourneyNotFoundError,
    create_journey,
    export_map,
    publish_journey,
    seed_starters,
)
from engine.map.document import JourneyMap, PausePolicy
from engine.map.durations import DurationFormatError, format_duration, parse_duration
from engine.map.starters import TEMPLATE_NAMES, UnknownTemplateError, list_templates, load_template
from engine.runtime.lifecycle import (
    LifecycleError,
    StopMode,
    launch_journey,
    pause_journey,
    resume_journey,
    stop_journey,
)
from engine.simulation.demo import DEMO_SPEED, DEMO_STARTER, ensure_demo_journey
from engine.simulation.planner import (
    SimulationError,
    SimulationOptions,
    find_target,
    parse_probability,
    parse_stage_odds,
    plan_simulation,
    resolve_odds,
)
from engine.simulation.sender import MAX_BATCH, IntakeClient, IntakeError, Progress, Sender, schedule
from engine.store.db import alembic_config, database_url, get_engine, session_scope, upgrade_database, utc_now
from engine.store.journeys import Journey, JourneyStatus
from engine.worker.scheduler import Engine, EngineSettings

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
    # Padded to the longest severity ("warning") so the ids line up in a column.
    return f"{problem.severity.value:<7}  {where}  {problem.code}: {problem.message}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _summary(problems: Sequence[Problem]) -> str:
    if not problems:
        return "ok: no problems"
    errors = sum(p.severity is ProblemSeverity.ERROR for p in problems)
    return f"{_count(errors, 'error')}, {_count(len(problems) - errors, 'warning')}"


def _report(problems: Sequence[Problem]) -> str:
    """The problems one per line, then the summary: what ``journey compile`` prints."""
    return "\n".join([*(_problem_line(p) for p in problems), _summary(problems)])


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
        print(_report(problems))
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
        raise CommandFailedError(str(error), USAGE) from None
    return 0


def _file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a journey-map JSON file")


def import_command(args: argparse.Namespace) -> int:
    doc, problems = _load(args.file)
    if doc is None:
        lines = "\n".join(_problem_line(p) for p in problems)
        raise CommandFailedError(f"{args.file} is not a journey map; nothing was stored:\n{lines}")
    with session_scope() as session:
        journey = create_journey(session=session, doc=doc, created_by=_actor())
        print(journey.id)
    return 0


def _id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journey_id", type=int, metavar="ID", help="the journey's id")


def export_command(args: argparse.Namespace) -> int:
    with _journey_errors(), session_scope() as session:
        doc = export_map(session=session, journey_id=args.journey_id)
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


# --- publishing and the journey's lifecycle ------------------------------------------------------


def _actor() -> str:
    """Who the audit log names for what this command does: the operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment nor in the password database
        user = "unknown"
    return f"cli:{user}"


@contextmanager
def _journey_errors() -> Iterator[None]:
    """A refusal from the journey service ends the command with its message (the service wrote nothing)."""
    try:
        yield
    except (JourneyNotFoundError, LifecycleError) as error:
        raise CommandFailedError(str(error)) from None
    except CompileFailedError as error:
        raise CommandFailedError(f"nothing was published, the draft has errors:\n{_report(error.problems)}") from None


def publish_command(args: argparse.Namespace) -> int:
    with _journey_errors(), session_scope() as session:
        version = publish_journey(session=session, journey_id=args.journey_id, published_by=_actor())
    print(f"published version {version.number} of journey {args.journey_id}")
    return 0


_STATUS_NOTES = {
    JourneyStatus.LIVE: "customers enter it and move through it",
    JourneyStatus.PAUSED: "nobody enters, nothing is sent, customers stay where they are",
    JourneyStatus.DRAINING: "nobody enters; it stops once the customers inside finish",
    JourneyStatus.STOPPED: "every run has ended",
}


def _print_status(journey: Journey) -> None:
    note = _STATUS_NOTES.get(journey.status)
    print(f"journey {journey.id} ({journey.name}) is {journey.status.value}" + (f": {note}" if note else ""))


def launch_command(args: argparse.Namespace) -> int:
    with _journey_errors(), session_scope() as session:
        journey = launch_journey(session=session, journey_id=args.journey_id, actor=_actor())
    _print_status(journey)
    return 0


def pause_command(args: argparse.Namespace) -> int:
    with _journey_errors(), session_scope() as session:
        journey = pause_journey(session=session, journey_id=args.journey_id, actor=_actor())
    _print_status(journey)
    return 0


def resume_command(args: argparse.Namespace) -> int:
    with _journey_errors(), session_scope() as session:
        journey = resume_journey(session=session, journey_id=args.journey_id, actor=_actor(), policy=args.policy)
    _print_status(journey)
    return 0


def stop_command(args: argparse.Namespace) -> int:
    mode = StopMode.DRAIN if args.drain else StopMode.NOW
    with _journey_errors(), session_scope() as session:
        journey = stop_journey(session=session, journey_id=args.journey_id, actor=_actor(), mode=mode)
    _print_status(journey)
    return 0


def _resume_arguments(parser: argparse.ArgumentParser) -> None:
    _id_argument(parser)
    parser.add_argument(
        "--policy",
        type=PausePolicy,
        choices=list(PausePolicy),
        help="what to do with steps that fell due while paused (default: the map's pause policy)",
    )


def _stop_arguments(parser: argparse.ArgumentParser) -> None:
    _id_argument(parser)
    parser.add_argument(
        "--drain", action="store_true", help="stop new entries but let the customers inside finish their runs"
    )


# --- secrets -------------------------------------------------------------------------------------

NAME_LENGTH = 200


def _secret_name(text: str) -> str:
    name = text.strip()
    if not name or len(name) > NAME_LENGTH:
        raise argparse.ArgumentTypeError(f"a name needs 1 to {NAME_LENGTH} characters, got {len(name)}")
    return name


def _name_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", type=_secret_name, help="what the secret is for (shown in lists, not secret)")


def key_create_command(args: argparse.Namespace) -> int:
    with session_scope() as session:
        issued = create_write_key(session=session, name=args.name, actor=_actor())
    # The secret alone on stdout, so `$(journey key create site)` captures it; the advice goes to
    # stderr and does not repeat it, so a logged stderr leaks nothing.
    print(issued.secret)
    print(
        f"write key {issued.id} ({issued.name}) created; it is shown only this once. Use it as a Segment "
        f"library's write key, or send it as the HTTP Basic username with an empty password: "
        f"`curl -u <key>: http://<server>/v1/track ...`",
        file=sys.stderr,
    )
    return 0


def _token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", type=Role, choices=list(Role), required=True, help="what the token may do")
    _name_argument(parser)


def token_create_command(args: argparse.Namespace) -> int:
    with session_scope() as session:
        issued = create_api_token(session=session, name=args.name, role=args.role, actor=_actor())
    print(issued.secret)
    print(
        f"API token {issued.id} ({issued.name}, {args.role.value}) created; it is shown only this once. "
        f"Send it as the header `Authorization: Bearer <token>`.",
        file=sys.stderr,
    )
    return 0


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else "-"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, the last one left ragged."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows)
    return "\n".join(["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), *lines])


def _secret_rows(summaries: Sequence[SecretSummary], *, with_role: bool) -> list[list[str]]:
    rows = []
    for item in summaries:
        # The prefix is what the holder of a secret can match against; "…" says the rest is not shown.
        row = [str(item.id), item.prefix + "…", item.name, _when(item.created_at)]
        if with_role:
            row += [item.role or "-", _when(item.last_used_at)]
        rows.append([*row, f"revoked {_when(item.revoked_at)}" if item.revoked_at else "active"])
    return rows


def key_list_command(_: argparse.Namespace) -> int:
    with session_scope() as session:
        keys = list_write_keys(session=session)
    if not keys:
        print(f"no write keys; create one with `{PROG} key create NAME`")
        return 0
    print(_table(["id", "prefix", "name", "created", "status"], _secret_rows(keys, with_role=False)))
    return 0


def token_list_command(_: argparse.Namespace) -> int:
    with session_scope() as session:
        tokens = list_api_tokens(session=session)
    if not tokens:
        print(f"no API tokens; create one with `{PROG} token create NAME --role ROLE`")
        return 0
    headers = ["id", "prefix", "name", "created", "role", "last used", "status"]
    print(_table(headers, _secret_rows(tokens, with_role=True)))
    return 0


def _secret_id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("secret_id", type=int, metavar="ID", help="the id shown by the list command")


def _print_revoked(kind: str, summary: SecretSummary) -> None:
    print(f"{kind} {summary.id} ({summary.name}, {summary.prefix}…) revoked {_when(summary.revoked_at)}")


def key_revoke_command(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            summary = revoke_write_key(session=session, key_id=args.secret_id, actor=_actor())
    except SecretNotFoundError as error:
        raise CommandFailedError(str(error)) from None
    _print_revoked("write key", summary)
    return 0


def token_revoke_command(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            summary = revoke_api_token(session=session, token_id=args.secret_id, actor=_actor())
    except SecretNotFoundError as error:
        raise CommandFailedError(str(error)) from None
    _print_revoked("API token", summary)
    return 0


# --- users ---------------------------------------------------------------------------------------


def _user_create_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", required=True, help="what the user signs in with")
    parser.add_argument("--role", type=Role, choices=list(Role), required=True, help="what the user may do")
    parser.add_argument("--name", default="", help="the name shown in the app (default: none)")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of asking for it twice",
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # The first line without its line ending: `echo "$PASSWORD" | journey user create ...` works.
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    password = getpass.getpass(f"Password (at least {PASSWORD_MIN} characters): ")
    if getpass.getpass("The same password again: ") != password:
        raise CommandFailedError("the two passwords differ; nothing was created")
    return password


def user_create_command(args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    try:
        with session_scope() as session:
            identity = create_user(
                session=session,
                email=args.email,
                password=password,
                role=args.role,
                name=args.name,
                actor=_actor(),
            )
    except AccountError as error:
        raise CommandFailedError(f"{error}; nothing was created") from None
    print(f"created user {identity.user_id}: {identity.email} ({identity.role.value})")
    return 0


def user_list_command(_: argparse.Namespace) -> int:
    with session_scope() as session:
        users = list_users(session=session)
    if not users:
        print(f"no users; create the first admin with `{PROG} user create --email EMAIL --role admin`")
        return 0
    rows = [
        [
            str(user.id),
            user.email,
            user.role.value,
            user.name or "-",
            _when(user.last_sign_in_at),
            f"until {_when(user.locked_until)}" if user.locked_until and user.locked_until > utc_now() else "-",
        ]
        for user in users
    ]
    print(_table(["id", "email", "role", "name", "last sign-in", "locked"], rows))
    return 0


# --- demo traffic --------------------------------------------------------------------------------

DEFAULT_BASE_URL = "http://localhost:8000"
SIMULATOR_KEY_NAME = "simulator"


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def checked(text: str) -> Any:
        try:
            return parse(text)
        except SimulationError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return checked


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < speed <= 1_000_000:
        raise argparse.ArgumentTypeError(f"the speed must be more than 0 and at most 1000000, got {text}")
    return speed


def _simulated_duration(text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except DurationFormatError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if duration < timedelta(0):
        raise argparse.ArgumentTypeError(f"the arrival window cannot be negative, got {text}")
    return duration


def _batch_size(text: str) -> int:
    size = _positive_int(text)
    if size > MAX_BATCH:
        raise argparse.ArgumentTypeError(f"a batch holds at most {MAX_BATCH} events, got {size}")
    return size


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"cannot wait a negative time, got {text}")
    return seconds


def _simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("journey", metavar="JOURNEY", help="the live journey's id or exact name")
    parser.add_argument("--customers", type=_positive_int, default=100, help="how many customers (default 100)")
    parser.add_argument(
        "--speed",
        type=_speed,
        default=DEMO_SPEED,
        help="how much faster than real time the customers arrive and browse: 60 (the default) plays a "
        "simulated minute in a second; inside the journey they act within its waits, which run in real time",
    )
    parser.add_argument(
        "--over",
        type=_simulated_duration,
        default=timedelta(hours=1),
        metavar="DURATION",
        help="spread the customers' arrivals over this much simulated time, ISO 8601 (default PT1H)",
    )
    parser.add_argument(
        "--convert",
        type=_argument_type(parse_probability),
        metavar="P",
        help="at each wait of every stage, the chance a customer does what the wait hopes for "
        "(default: the starter's odds per stage, or 0.3)",
    )
    parser.add_argument(
        "--drop",
        type=_argument_type(parse_probability),
        metavar="P",
        help="at each wait of every stage, the chance a customer leaves (default: per starter, or 0.05)",
    )
    parser.add_argument(
        "--stage",
        type=_argument_type(parse_stage_odds),
        action="append",
        default=[],
        metavar="STAGE=CONVERT[,DROP]",
        help="one stage's odds, over --convert and --drop (repeatable), e.g. --stage recover=0.4,0.02",
    )
    parser.add_argument("--seed", type=int, help="the same seed plans the same customers (default: a random one)")
    parser.add_argument(
        "--base-url", default=DEFAULT_BASE_URL, help=f"the app's backend serving /v1/batch (default {DEFAULT_BASE_URL})"
    )
    parser.add_argument(
        "--write-key",
        default=os.environ.get("JOURNEY_WRITE_KEY"),
        help="the intake write key (default: $JOURNEY_WRITE_KEY; without either, a key named "
        f"{SIMULATOR_KEY_NAME!r} is created)",
    )
    parser.add_argument(
        "--batch-size", type=_batch_size, default=100, help="at most this many events per request (default 100)"
    )
    parser.add_argument(
        "--wait-for-intake",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long for the backend to answer before sending (default 0: it must answer now)",
    )


def simulate_command(args: argparse.Namespace) -> int:
    # Started in the background by a script, the command inherits an ignored SIGINT; Ctrl-C on the
    # script's terminal must still stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    with session_scope() as session:
        try:
            target = find_target(session=session, reference=args.journey)
        except SimulationError as error:
            raise CommandFailedError(str(error)) from None
        write_key = args.write_key
        if not write_key:
            issued = create_write_key(session=session, name=SIMULATOR_KEY_NAME)
            write_key = issued.secret
            print(
                f"created write key {issued.id} ({issued.name}) in {_shown_url()}; "
                "pass it with --write-key or JOURNEY_WRITE_KEY to reuse it",
                file=sys.stderr,
            )
    try:
        odds = resolve_odds(
            target.plan, convert=args.convert, drop=args.drop, stages={stage: (c, d) for stage, c, d in args.stage}
        )
        scripts = plan_simulation(
            target.plan,
            target.doc,
            SimulationOptions(
                customers=args.customers,
                seed=seed,
                odds=odds,
                arrivals_over=args.over,
                speed=args.speed,
                start=utc_now(),
            ),
        )
    except SimulationError as error:
        raise CommandFailedError(str(error), USAGE) from None
    deliveries = schedule(scripts)
    real_seconds = deliveries[-1].due if deliveries else 0.0
    outcomes = Counter(script.outcome.value for script in scripts)
    print(
        f"simulating {args.customers:,} customers of journey {target.journey_id} ({target.name}, version "
        f"{target.version}) at {args.base_url}: {len(deliveries):,} events, arrivals over "
        f"{format_duration(args.over)} of simulated time, speed {args.speed:g}x, about "
        f"{timedelta(seconds=round(real_seconds))} in real time; seed {seed}",
        file=sys.stderr,
    )
    print(
        "odds per stage: "
        + "; ".join(f"{stage} convert {o.convert:g} drop {o.drop:g}" for stage, o in odds.items())
        + "\nplanned outcomes: "
        + ", ".join(f"{outcome} {count:,}" for outcome, count in sorted(outcomes.items())),
        file=sys.stderr,
    )
    client = IntakeClient(args.base_url, write_key)
    sender = Sender(
        client,
        deliveries,
        customers=args.customers,
        progress=Progress(len(deliveries), sys.stderr),
        batch_size=args.batch_size,
    )
    try:
        client.wait_until_up(args.wait_for_intake)
        sender.run()
    except IntakeError as error:
        print(sender.report.summary(), file=sys.stderr)
        raise CommandFailedError(str(error)) from None
    except KeyboardInterrupt:
        print(f"\n{sender.report.summary()}", file=sys.stderr)
        raise
    finally:
        client.close()
    print(sender.report.summary(), file=sys.stderr)
    return 0


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--starter", choices=TEMPLATE_NAMES, default=DEMO_STARTER, help=f"the starter to copy (default {DEMO_STARTER})"
    )
    parser.add_argument(
        "--speed", type=_speed, default=DEMO_SPEED, help=f"divide its waits by this (default {DEMO_SPEED:g})"
    )


def demo_command(args: argparse.Namespace) -> int:
    with session_scope() as session:
        demo = ensure_demo_journey(session=session, actor=_actor(), starter=args.starter, speed=args.speed)
        journey = demo.journey
        done = [
            *(["created"] if demo.created else []),
            *([f"published version {demo.published_version}"] if demo.published_version else []),
            *(["launched"] if demo.launched else []),
        ]
    print(journey.id)
    what = ", ".join(done) if done else "nothing to do"
    if journey.status is not JourneyStatus.LIVE:
        raise CommandFailedError(
            f"demo journey {journey.id} ({journey.name}) is {journey.status.value}, so it takes no simulated "
            f"customers ({what}); resume it to have it fed again"
        )
    print(f"demo journey {journey.id} ({journey.name}) is live ({what})", file=sys.stderr)
    return 0


# --- the engine ----------------------------------------------------------------------------------

# Named, not __name__: run as `python -m engine.cli` the entry module is __main__, outside the "engine" loggers.
log = logging.getLogger("engine.worker")


def _tick(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"the tick must be more than 0 and at most 3600 seconds, got {text}")
    return seconds


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tick", type=_tick, default=1.0, metavar="SECONDS", help="how often due customers are advanced (default 1)"
    )


def _require_newest_schema() -> None:
    # A worker on an old schema would fail every tick in the background; refuse at once instead.
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with get_engine().connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise CommandFailedError(
            f"the database at {_shown_url()} is at schema revision {current or 'none'}, not {head}; "
            f"run `{PROG} db upgrade`"
        )


def worker_command(args: argparse.Namespace) -> int:
    _require_newest_schema()
    try:
        engine = Engine(EngineSettings(tick=timedelta(seconds=args.tick)))
    except ChannelSettingsError as error:
        raise CommandFailedError(str(error), USAGE) from None
    # The engine's own news at INFO; other libraries (APScheduler logs every job run at INFO,
    # SQLAlchemy every statement) only when something is wrong.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("engine").setLevel(logging.INFO)
    stop = threading.Event()
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in handled}
    try:
        engine.start()
        log.info("journey worker started on %s, ticking every %g s", _shown_url(), args.tick)
        stop.wait()
        log.info("journey worker stopping: finishing the running tick")
    finally:
        engine.shutdown()
        for number, handler in previous.items():
            signal.signal(number, handler)
    log.info("journey worker stopped")
    return 0


COMMANDS: tuple[Command, ...] = (
    Command(("compile",), "check a journey-map file and list its problems", compile_command, _compile_arguments),
    Command(("template",), "list the starter journeys, or print one's map", template_command, _template_arguments),
    Command(("import",), "store a journey-map file as a new journey and print its id", import_command, _file_argument),
    Command(("export",), "print a journey's draft map", export_command, _id_argument),
    Command(("db", "upgrade"), "apply the database migrations (alembic upgrade head)", db_upgrade_command),
    Command(("seed",), "store the starter journeys that are not stored yet", seed_command),
    Command(("publish",), "compile a journey's draft and freeze it as the next version", publish_command, _id_argument),
    Command(("launch",), "open a journey to entries on its newest version", launch_command, _id_argument),
    Command(("pause",), "hold a live journey: no entries, no sends", pause_command, _id_argument),
    Command(("resume",), "continue a paused journey", resume_command, _resume_arguments),
    Command(("stop",), "end a journey, now or once its customers finish (--drain)", stop_command, _stop_arguments),
    Command(("key", "create"), "create an ingestion write key and print it", key_create_command, _name_argument),
    Command(("key", "list"), "list the write keys (their first characters, never the keys)", key_list_command),
    Command(
        ("key", "revoke"), "revoke a write key: intake refuses it from now on", key_revoke_command, _secret_id_argument
    ),
    Command(("token", "create"), "create an API bearer token and print it", token_create_command, _token_arguments),
    Command(("token", "list"), "list the API tokens (their first characters, never the tokens)", token_list_command),
    Command(
        ("token", "revoke"),
        "revoke an API token: the API refuses it from now on",
        token_revoke_command,
        _secret_id_argument,
    ),
    Command(
        ("user", "create"),
        "create a user (the first admin, say); asks for the password",
        user_create_command,
        _user_create_arguments,
    ),
    Command(("user", "list"), "list the users with their roles", user_list_command),
    Command(
        ("simulate",),
        "send simulated customers of a live journey through the public /v1/batch intake",
        simulate_command,
        _simulate_arguments,
    ),
    Command(
        ("demo",),
        "store, publish and launch the demo journey (a starter with faster waits)",
        demo_command,
        _demo_arguments,
    ),
    Command(("worker",), "run the engine in the foreground until SIGINT or SIGTERM", worker_command, _worker_arguments),
)

GROUP_HELP: dict[tuple[str, ...], str] = {
    ("db",): "the database: migrations",
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
            f"{PROG}: the database at {_shown_url()} cannot be used ({error.orig}); "
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
