"""The ``journey`` command line, driven through ``main([...])`` with its output captured."""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.command import upgrade
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import select

from engine.accounts import AccessDeniedError, SignInError, sign_in, verify_api_token, verify_write_key
from engine.cli import Command, build_parser, main
from engine.journeys import get_journey, list_journeys
from engine.map import JourneyMap
from engine.map.starters import list_templates, load_template
from engine.store import (
    PROJECT_ROOT,
    Enrollment,
    EnrollmentStatus,
    JourneyStatus,
    JourneyVersion,
    Role,
    alembic_config,
    audit,
    get_engine,
    session_scope,
    utc_now,
)
from tests.engine_factories import event_trigger, ingest_and_react, journey_map, node, publish_and_launch, send, track

PROBLEM_FIELDS = {"code", "message", "severity", "node_id", "edge_id"}


def write(tmp_path: Path, doc: JourneyMap | str, name: str = "map.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else doc.to_json(), encoding="utf-8")
    return path


def clean_map() -> JourneyMap:
    return journey_map(
        [event_trigger("signed_up"), send("hello"), node("later", "touchpoint", stage="s2")], [("entry", "hello")]
    )


def map_with_a_warning() -> JourneyMap:
    return journey_map([event_trigger("signed_up"), send("hello")], [("entry", "hello")])


def map_with_a_node_error() -> JourneyMap:
    return journey_map(
        [
            event_trigger("signed_up"),
            send("hello", body="Hi {{ profile.shoe_size }}"),
            node("x", "touchpoint", stage="s2"),
        ],
        [("entry", "hello")],
    )


def map_with_two_errors_and_a_warning() -> JourneyMap:
    return journey_map(
        [
            event_trigger("signed_up"),
            send("hello", body="Hi {{ profile.shoe_size }}"),
            send("bye", body="Bye {{ profile.hat_size }}"),
        ],
        [("entry", "hello"), ("hello", "bye")],
    )


def wait_then_send() -> JourneyMap:
    return journey_map(
        [event_trigger("go"), node("hold", "wait", duration="PT1H"), send("hello", stage="s2")],
        [("entry", "hold"), ("hold", "hello")],
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def test_compile_a_clean_map_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "compile", str(write(tmp_path, clean_map())))
    assert (status, out) == (0, "ok: no problems\n")


def test_compile_with_only_warnings_exits_0_and_lists_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "compile", str(write(tmp_path, map_with_a_warning())))
    assert status == 0
    assert out.splitlines() == [
        "warning  map  empty_stage: Stage 'Second' has no steps or touchpoints yet.",
        "0 errors, 1 warning",
    ]


def test_compile_errors_exit_1_with_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "compile", str(write(tmp_path, map_with_a_node_error())))
    assert status == 1
    [line, summary] = out.splitlines()
    assert line.startswith("error    node=hello  unknown_placeholder: The body of the send node hello uses")
    assert summary == "1 error, 0 warnings"


def test_compile_counts_errors_and_warnings_in_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "compile", str(write(tmp_path, map_with_two_errors_and_a_warning())))
    lines = out.splitlines()
    assert status == 1
    assert [line.split()[:3] for line in lines[:-1]] == [
        ["error", "node=hello", "unknown_placeholder:"],
        ["error", "node=bye", "unknown_placeholder:"],
        ["warning", "map", "empty_stage:"],
    ]
    assert lines[-1] == "2 errors, 1 warning"


def test_compile_json_reports_ok_and_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "compile", str(write(tmp_path, map_with_a_node_error())), "--json")
    report = json.loads(out)
    assert status == 1
    assert set(report) == {"ok", "problems"}
    assert report["ok"] is False
    assert [(p["code"], p["severity"], p["node_id"]) for p in report["problems"]] == [
        ("unknown_placeholder", "error", "hello")
    ]
    assert all(set(p) == PROBLEM_FIELDS for p in report["problems"])


def test_compile_json_of_a_map_with_warnings_is_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "compile", "--json", str(write(tmp_path, map_with_a_warning())))
    report = json.loads(out)
    assert (status, report["ok"]) == (0, True)
    assert [p["code"] for p in report["problems"]] == ["empty_stage"]


def test_compile_reports_an_invalid_document_per_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(
        {
            "name": "Broken",
            "nodes": [{"id": "pause", "kind": "wait", "stage": "s1", "duration": "soon"}],
            "edges": [{"id": "e1", "source": "pause"}],
        }
    )
    status, out, _ = run(capsys, "compile", "--json", str(write(tmp_path, text)))
    problems = json.loads(out)["problems"]
    assert status == 1
    assert [(p["code"], p["node_id"], p["edge_id"]) for p in problems] == [
        ("invalid_document", "pause", None),
        ("invalid_document", None, "e1"),
    ]
    assert problems[0]["message"].startswith("nodes[0].duration: 'soon' is not an ISO 8601 duration")
    assert problems[1]["message"] == "edges[0].target: Field required"


def test_compile_reports_text_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "compile", str(write(tmp_path, "{not json")))
    assert status == 1
    assert out.startswith("error    map  invalid_document: Invalid JSON")


def test_compile_of_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "compile", str(tmp_path / "absent.json"))
    assert (status, out) == (2, "")
    assert err == f"journey: no such file: {tmp_path / 'absent.json'}\n"


def test_template_lists_the_starters(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "template")
    assert (status, out.splitlines()) == (0, list_templates())


def test_template_prints_a_starter_map(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "template", "trial_onboarding")
    assert status == 0
    assert JourneyMap.from_json(out) == load_template("trial_onboarding")


def test_an_unknown_template_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "template", "birthday")
    assert (status, out) == (2, "")
    assert "birthday" in err
    assert "cart_abandonment" in err


def test_import_then_export_gives_back_the_map(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = load_template("support_escalation")
    status, out, _ = run(capsys, "import", str(write(tmp_path, doc)))
    assert status == 0
    journey_id = int(out)

    status, out, _ = run(capsys, "export", str(journey_id))

    assert status == 0
    assert JourneyMap.from_json(out) == doc


def test_import_refuses_a_name_another_journey_has_ignoring_case_and_names_a_free_one(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = load_template("support_escalation")
    status, out, _ = run(capsys, "import", str(write(tmp_path, doc)))
    assert status == 0
    shouting = doc.model_copy(update={"name": doc.name.upper()})

    status, out, err = run(capsys, "import", str(write(tmp_path, shouting)))

    assert (status, out) == (1, "")
    assert f"is already called {doc.name!r}" in err
    assert f"such as {doc.name.upper() + ' (2)'!r}" in err
    with session_scope(database) as session:
        assert len(list_journeys(session=session)) == 1


def test_import_stores_a_draft_that_does_not_compile_yet(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "import", str(write(tmp_path, map_with_a_node_error())))
    assert status == 0
    with session_scope(database) as session:
        assert [s.id for s in list_journeys(session=session)] == [int(out)]


def test_import_refuses_an_invalid_document_and_stores_nothing(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "import", str(write(tmp_path, '{"name": ""}')))
    assert (status, out) == (1, "")
    assert "is not a journey map; nothing was stored" in err
    assert "invalid_document: name:" in err
    with session_scope(database) as session:
        assert list_journeys(session=session) == []


def test_export_of_an_unknown_journey_exits_1(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "export", "404")
    assert (status, out, err) == (1, "", "journey: there is no journey with id 404\n")


def test_db_upgrade_migrates_the_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    status, out, _ = run(capsys, "db", "upgrade")
    assert (status, out) == (0, f"migrated {url} to the newest schema\n")
    assert {"journey", "journey_version"} <= set(inspect(get_engine(url)).get_table_names())


def test_commands_on_an_unmigrated_database_say_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    status, _, err = run(capsys, "export", "1")
    assert status == 1
    assert "no such table: journey" in err
    assert "run `journey db upgrade`" in err


def test_seed_creates_the_starters_once(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "seed")
    names = [load_template(name).name for name in list_templates()]
    assert status == 0
    assert [line.split(": ", 1)[1] for line in out.splitlines()] == names
    assert all(line.startswith("created journey ") for line in out.splitlines())

    status, out, _ = run(capsys, "seed")
    assert (status, out) == (0, "every starter journey is already stored; nothing created\n")


def test_a_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_commands_with_a_path_are_grouped_under_their_first_word() -> None:
    def create_key(args: argparse.Namespace) -> int:
        return 7 if args.name == "ingest" else 0

    def name_argument(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name")

    parser = build_parser([Command(("key", "create"), "make a write key", create_key, name_argument)])
    args = parser.parse_args(["key", "create", "ingest"])
    assert args.run(args) == 7


def test_the_module_runs_as_a_program() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "engine.cli", "template"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    assert (finished.returncode, finished.stdout.splitlines()) == (0, list_templates())


def imported(capsys: pytest.CaptureFixture[str], tmp_path: Path, doc: JourneyMap) -> int:
    status, out, _ = run(capsys, "import", str(write(tmp_path, doc)))
    assert status == 0
    return int(out)


def test_publish_launch_pause_resume_and_stop(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journey_id = imported(capsys, tmp_path, clean_map())
    steps = [
        (["publish"], f"published version 1 of journey {journey_id}", JourneyStatus.DRAFT),
        (["launch"], f"journey {journey_id} (Test journey) is live: ", JourneyStatus.LIVE),
        (["pause"], f"journey {journey_id} (Test journey) is paused: ", JourneyStatus.PAUSED),
        (["resume", "--policy", "send_late"], f"journey {journey_id} (Test journey) is live: ", JourneyStatus.LIVE),
        (["stop"], f"journey {journey_id} (Test journey) is stopped: ", JourneyStatus.STOPPED),
    ]
    for (command, *options), printed, status_after in steps:
        status, out, err = run(capsys, command, str(journey_id), *options)
        assert (status, err) == (0, ""), command
        assert out.startswith(printed), command
        with session_scope(database) as session:
            assert get_journey(session=session, journey_id=journey_id).status is status_after, command

    actor = f"cli:{getpass.getuser()}"
    with session_scope(database) as session:
        log = sorted(audit.entries(session=session, journey_id=journey_id), key=lambda entry: entry.id or 0)
        [version] = session.exec(select(JourneyVersion).where(JourneyVersion.journey_id == journey_id)).all()
    assert [(entry.actor, entry.action) for entry in log] == [
        # Imported as the journeys list creates one: recorded, with who did it.
        (actor, "journey.create"),
        (actor, "launch"),
        (actor, "pause"),
        (actor, "resume"),
        (actor, "stop"),
    ]
    assert log[3].detail["policy"] == "send_late"
    assert version.published_by == actor


def test_stop_with_drain_leaves_the_journey_draining(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journey_id = imported(capsys, tmp_path, clean_map())
    run(capsys, "publish", str(journey_id))
    run(capsys, "launch", str(journey_id))

    status, out, _ = run(capsys, "stop", str(journey_id), "--drain")

    assert status == 0
    assert out == (
        f"journey {journey_id} (Test journey) is draining: nobody enters; it stops once the customers inside finish\n"
    )


def test_an_action_the_status_does_not_allow_is_refused_with_the_reason(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journey_id = imported(capsys, tmp_path, clean_map())
    status, out, err = run(capsys, "pause", str(journey_id))
    assert (status, out) == (1, "")
    assert err == "journey: cannot pause journey 'Test journey': it is draft, and pause needs live\n"
    with session_scope(database) as session:
        assert get_journey(session=session, journey_id=journey_id).status is JourneyStatus.DRAFT
        # Only the import is on record: the refused pause wrote nothing.
        assert [e.action for e in audit.entries(session=session, journey_id=journey_id)] == ["journey.create"]


def test_launch_before_publishing_says_to_publish(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journey_id = imported(capsys, tmp_path, clean_map())
    status, _, err = run(capsys, "launch", str(journey_id))
    assert (status, err) == (1, "journey: cannot launch journey 'Test journey': publish a version first\n")


def test_publishing_a_draft_with_errors_prints_them_and_stores_nothing(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journey_id = imported(capsys, tmp_path, map_with_two_errors_and_a_warning())

    status, out, err = run(capsys, "publish", str(journey_id))

    assert (status, out) == (1, "")
    lines = err.splitlines()
    assert lines[0] == "journey: nothing was published, the draft has errors:"
    assert lines[1].startswith("error    node=hello  unknown_placeholder: ")
    assert lines[-1] == "2 errors, 1 warning"
    with session_scope(database) as session:
        assert session.exec(select(JourneyVersion)).all() == []


@pytest.mark.parametrize("command", ["publish", "launch", "pause", "resume", "stop"])
def test_actions_on_an_unknown_journey_name_the_id(
    database: str, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    status, out, err = run(capsys, command, "404")
    assert (status, out, err) == (1, "", "journey: there is no journey with id 404\n")


def test_resume_refuses_an_unknown_policy(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["resume", "1", "--policy", "whenever"])
    assert exited.value.code == 2
    assert "invalid PausePolicy value: 'whenever'" in capsys.readouterr().err


def test_the_actor_falls_back_when_the_os_user_is_unknown(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_user() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(getpass, "getuser", no_user)
    journey_id = imported(capsys, tmp_path, clean_map())
    with session_scope(database) as session:
        assert get_journey(session=session, journey_id=journey_id).created_by == "cli:unknown"


def test_key_create_prints_a_write_key_that_verifies(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "key", "create", "  website  ")
    [secret] = out.splitlines()
    assert status == 0
    assert "HTTP Basic username" in err
    assert secret not in err
    with session_scope(database) as session:
        assert verify_write_key(session=session, secret=secret).name == "website"


def test_token_create_prints_a_bearer_token_with_its_role(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "token", "create", "--role", "marketer", "campaigns")
    [secret] = out.splitlines()
    assert status == 0
    assert "Authorization: Bearer <token>" in err
    assert secret not in err
    with session_scope(database) as session:
        token = verify_api_token(session=session, secret=secret)
        assert (token.name, token.role) == ("campaigns", Role.MARKETER.value)


def test_key_and_token_creation_is_audited_with_the_os_user(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "key", "create", "website")
    run(capsys, "token", "create", "--role", "admin", "ops")
    with session_scope(database) as session:
        trail = [(e.action, e.actor) for e in reversed(audit.entries(session=session))]
    assert trail == [("key.create", f"cli:{getpass.getuser()}"), ("token.create", f"cli:{getpass.getuser()}")]


def test_key_list_shows_prefixes_and_revoke_makes_intake_refuse_the_key(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "key", "list") == (0, "no write keys; create one with `journey key create NAME`\n", "")
    secrets_ = [run(capsys, "key", "create", name)[1].strip() for name in ("website", "app")]

    status, out, _ = run(capsys, "key", "revoke", "1")
    assert status == 0
    assert out.startswith(f"write key 1 (website, {secrets_[0][:8]}…) revoked ")
    status, out, _ = run(capsys, "key", "list")

    header, newest, oldest = out.splitlines()
    assert status == 0
    assert header.split() == ["id", "prefix", "name", "created", "status"]
    assert newest.split()[:3] == ["2", secrets_[1][:8] + "…", "app"]
    assert newest.endswith("active")
    assert oldest.split()[:3] == ["1", secrets_[0][:8] + "…", "website"]
    assert "revoked" in oldest
    assert not any(secret[8:] in out for secret in secrets_)
    with session_scope(database) as session:
        with pytest.raises(AccessDeniedError):
            verify_write_key(session=session, secret=secrets_[0])
        assert verify_write_key(session=session, secret=secrets_[1]).name == "app"


def test_token_list_shows_roles_and_revoke_makes_the_api_refuse_the_token(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = run(capsys, "token", "create", "--role", "executive", "board")[1].strip()

    status, out, _ = run(capsys, "token", "revoke", "1")
    assert status == 0
    assert out.startswith(f"API token 1 (board, {secret[:8]}…) revoked ")
    status, out, _ = run(capsys, "token", "list")

    header, row = out.splitlines()
    assert header.split() == ["id", "prefix", "name", "created", "role", "last", "used", "status"]
    assert row.split()[:3] == ["1", secret[:8] + "…", "board"]
    assert " executive " in row
    assert "revoked" in row
    assert secret[8:] not in out
    with session_scope(database) as session, pytest.raises(AccessDeniedError):
        verify_api_token(session=session, secret=secret)


@pytest.mark.parametrize(("kind", "noun"), [("key", "write key"), ("token", "API token")])
def test_revoking_an_unknown_id_exits_1(
    database: str, capsys: pytest.CaptureFixture[str], kind: str, noun: str
) -> None:
    assert run(capsys, kind, "revoke", "404") == (1, "", f"journey: there is no {noun} with id 404\n")


def sign_in_works(database: str, email: str, password: str) -> bool:
    with session_scope(database) as session:
        try:
            sign_in(session=session, email=email, password=password)
        except SignInError:
            return False
    return True


def test_user_create_reads_the_password_from_stdin(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\nnext line\n"))

    status, out, _ = run(
        capsys, "user", "create", "--email", "Ann@Example.com", "--role", "admin", "--name", "Ann", "--password-stdin"
    )

    assert (status, out) == (0, "created user 1: ann@example.com (admin)\n")
    assert sign_in_works(database, "ann@example.com", "correct horse battery")
    with session_scope(database) as session:
        [entry] = audit.entries(session=session, action="user.create")
    assert entry.actor == f"cli:{getpass.getuser()}"


def test_user_create_asks_for_the_password_twice(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def typed(prompt: str = "") -> str:
        prompts.append(prompt)
        return "typed at the terminal"

    monkeypatch.setattr(getpass, "getpass", typed)

    status, _, _ = run(capsys, "user", "create", "--email", "ann@example.com", "--role", "designer")

    assert status == 0
    assert prompts == ["Password (at least 12 characters): ", "The same password again: "]
    assert sign_in_works(database, "ann@example.com", "typed at the terminal")


def test_user_create_refuses_two_different_passwords(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["typed at the terminal", "typed at the terminaI"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))

    status, out, err = run(capsys, "user", "create", "--email", "ann@example.com", "--role", "admin")

    assert (status, out, err) == (1, "", "journey: the two passwords differ; nothing was created\n")
    assert run(capsys, "user", "list")[1].startswith("no users; create the first admin with `journey user create")


@pytest.mark.parametrize(
    ("email", "password", "complaint"),
    [
        ("ann", "correct horse battery", "email: not an email address"),
        ("ann@example.com", "too short", "password: at least 12 characters"),
        ("bob@example.com", "correct horse battery", "email: another user has this address"),
    ],
)
def test_user_create_names_what_is_wrong(
    database: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    email: str,
    password: str,
    complaint: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    run(capsys, "user", "create", "--email", "bob@example.com", "--role", "admin", "--password-stdin")
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))

    status, _, err = run(capsys, "user", "create", "--email", email, "--role", "admin", "--password-stdin")

    assert (status, err) == (1, f"journey: {complaint}; nothing was created\n")
    assert len(run(capsys, "user", "list")[1].splitlines()) == 2


def test_user_list_shows_roles_and_sign_ins(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for email, role in [("zoe@example.com", "admin"), ("ann@example.com", "executive")]:
        monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
        run(capsys, "user", "create", "--email", email, "--role", role, "--password-stdin")
    assert sign_in_works(database, "zoe@example.com", "correct horse battery")

    status, out, _ = run(capsys, "user", "list")

    header, ann, zoe = out.splitlines()
    assert status == 0
    assert header.split() == ["id", "email", "role", "name", "last", "sign-in", "locked"]
    assert ann.split() == ["2", "ann@example.com", "executive", "-", "-", "-"]
    assert zoe.split()[:4] == ["1", "zoe@example.com", "admin", "-"]
    assert zoe.split()[4] == utc_now().strftime("%Y-%m-%d")


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["key", "create", "   "], "a name needs 1 to 200 characters, got 0"),
        (["token", "create", "ops"], "the following arguments are required: --role"),
        (["token", "create", "--role", "owner", "ops"], "invalid Role value: 'owner'"),
        (["key", "revoke", "first"], "invalid int value: 'first'"),
        (["user", "create", "--email", "ann@example.com"], "the following arguments are required: --role"),
        (["user", "create", "--role", "admin"], "the following arguments are required: --email"),
        (["worker", "--tick", "0"], "the tick must be more than 0"),
        (["worker", "--tick", "soon"], "not a number of seconds: 'soon'"),
        (["worker", "--lease", "5"], "the send lease must be 15 to 3600 seconds, got 5"),
    ],
)
def test_bad_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_worker_refuses_a_database_that_is_not_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    status, _, err = run(capsys, "worker")
    assert (status, err) == (
        1,
        f"journey: the database at {url} is at schema revision none, not {head}; run `journey db upgrade`\n",
    )


def test_worker_refuses_a_database_migrated_only_part_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(alembic_config(url), "0001_journeys")
    monkeypatch.setenv("DATABASE_URL", url)
    status, _, err = run(capsys, "worker")
    assert status == 1
    assert "is at schema revision 0001_journeys, not " in err


def test_worker_names_an_unreachable_database_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 on the loopback address: nothing listens there, so the connection is refused at once.
    monkeypatch.setenv("DATABASE_URL", "postgresql://journeys:s3cret@127.0.0.1:1/journeys")
    status, _, err = run(capsys, "worker")
    assert status == 1
    assert err.startswith("journey: the database at postgresql+psycopg://journeys:***@127.0.0.1:1/journeys cannot")
    assert "s3cret" not in err


def test_worker_refuses_bad_channel_settings(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOURNEY_SMTP_PORT", "many")
    status, _, err = run(capsys, "worker")
    assert status == 2
    assert err.startswith("journey: JOURNEY_SMTP_PORT")


def wait_until_ended(url: str, worker: subprocess.Popen[bytes], timeout: float = 60) -> Enrollment:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.poll() is None:
        with session_scope(url) as session:
            run_ = session.exec(select(Enrollment)).one()
        if run_.status is EnrollmentStatus.ENDED:
            return run_
        time.sleep(0.1)
    raise AssertionError(f"the worker did not advance the customer (exit status {worker.poll()})")


def test_worker_advances_due_customers_until_sigterm(database: str, tmp_path: Path) -> None:
    with session_scope(database) as session:
        publish_and_launch(session, wait_then_send())
        # Entered two hours ago, so the hour's wait is over and the customer is due now.
        ingest_and_react(session=session, messages=[track("u1", "go")], now=utc_now() - timedelta(hours=2))
    channels = {name: value for name, value in os.environ.items() if not name.startswith("JOURNEY_")}
    log = tmp_path / "worker.log"
    with log.open("wb") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "worker", "--tick", "0.2"],
            cwd=PROJECT_ROOT,
            env={**channels, "DATABASE_URL": database, "JOURNEY_SANDBOX": "1"},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        ended = wait_until_ended(database, worker)
        worker.send_signal(signal.SIGTERM)
        status = worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = log.read_text()

    assert ended.end_reason == "completed"
    assert status == 0, output
    assert f"journey worker started on {database}, ticking every 0.2 s" in output
    assert "journey worker stopped" in output
    assert "Traceback" not in output
