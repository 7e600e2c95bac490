"""The ``journey`` command line, driven through ``main([...])`` with its output captured."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from engine.cli import Command, build_parser, main
from engine.journeys import list_journeys
from engine.mapdoc import JourneyMap
from engine.store.db import PROJECT_ROOT, get_engine, session_scope
from engine.templates import list_templates, load_template
from tests.engine_factories import event_trigger, journey_map, node, send

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
    assert (status, out) == (0, "no problems\n")


def test_compile_with_only_warnings_exits_0_and_lists_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "compile", str(write(tmp_path, map_with_a_warning())))
    assert status == 0
    assert out.splitlines() == [
        "warning  map  empty_stage: Stage 'Second' has no steps or touchpoints yet.",
        "0 error(s), 1 warning(s)",
    ]


def test_compile_errors_exit_1_with_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "compile", str(write(tmp_path, map_with_a_node_error())))
    assert status == 1
    [line, summary] = out.splitlines()
    assert line.startswith("error  node=hello  unknown_placeholder: The body of the send node hello uses")
    assert summary == "1 error(s), 0 warning(s)"


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
    assert out.startswith("error  map  invalid_document: Invalid JSON")


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
    assert (status, out) == (1, "")
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
