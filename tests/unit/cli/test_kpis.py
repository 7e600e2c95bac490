"""``journey kpis``: the overlay's figures from the command line, checked against the map's overlay and the
KPI page on the same hand-built history, for every window the command offers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from engine.cli import main
from engine.journeys import create_journey, publish_journey
from engine.kpis import KpiWindow, journey_overlay, journey_report, window_filter
from engine.store import utc_now
from journey_builder.canvas.overlay_view import OverlayWindow, count, overlay_view
from tests.history_factories import H, as_of, record_runs, story_map, story_run

CUSTOMERS = 60
EVERY_HOURS = 20.0  # one customer entering every 20 hours: the story spans about 7 weeks
NAME = "Trial to paid (kpis)"


@pytest.fixture
def story(session: Session, db_url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """The trial story up to now: customers entered over seven weeks, the last ones still inside."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    doc = story_map(NAME)
    journey = create_journey(session=session, doc=doc)
    assert journey.id is not None
    version = publish_journey(session=session, journey_id=journey.id)
    assert version.id is not None
    hours = CUSTOMERS * EVERY_HOURS
    start = utc_now() - hours * H
    runs = [as_of(story_run(i, i * EVERY_HOURS), hours) for i in range(CUSTOMERS)]
    record_runs(session, doc=doc, journey_id=journey.id, version_id=version.id, start=start, runs=runs)
    session.commit()
    return journey.id


def kpis(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    status = main(["kpis", *arguments])
    out, err = capsys.readouterr()
    return status, out, err


WINDOWS = [KpiWindow.LAST_24H, KpiWindow.LAST_7D, KpiWindow.LAST_30D, KpiWindow.ALL_TIME]


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: w.value)
def test_the_json_has_the_overlays_and_the_kpi_pages_figures(
    window: KpiWindow, story: int, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = kpis(capsys, str(story), "--window", window.value, "--json")
    assert status == 0
    figures: dict[str, Any] = json.loads(out)

    now = utc_now()
    report = journey_report(session=session, metrics_filter=window_filter(window, journey_id=story, now=now))
    assert (figures["entered"], figures["goal_reached"]) == (report.cohort.entered, report.cohort.reached_goal)
    for stage in report.stage_metrics:
        assert figures["stages"][stage.stage_id]["entered"] == stage.entered
        assert figures["stages"][stage.stage_id]["dropped_off"] == stage.dropped_off

    overlay = OverlayWindow(window.value)
    view = overlay_view(
        journey_overlay(session=session, metrics_filter=overlay.metrics_filter(story, now)), overlay, stamp=0.0
    )
    for node_id, node in view.nodes.items():
        shown = figures["nodes"][node_id]
        assert node.counts.startswith(f"{count(shown['entered'])} entered")
        assert node.customers == shown["customers"]
    for stage_id, stage in view.stages.items():
        shown = figures["stages"][stage_id]
        if shown["entered"]:
            assert f"{count(shown['entered'])} entered" in stage.counts


def test_the_figures_add_up_for_every_stage(story: int, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = kpis(capsys, str(story), "--json")
    stages = json.loads(out)["stages"]
    assert any(f["entered"] for f in stages.values())
    for stage_id, f in stages.items():
        out_of_stage = (f["moved_on"] or 0) + f["dropped_off"] + f["reached_goal"] + f["in_flight"]
        assert out_of_stage <= f["entered"], stage_id


def test_a_journey_is_named_by_its_exact_name_and_the_table_reads_as_the_map(
    story: int, capsys: pytest.CaptureFixture[str]
) -> None:
    status, by_name, _ = kpis(capsys, NAME, "--json")
    assert status == 0
    assert json.loads(by_name)["journey_id"] == story

    status, text, _ = kpis(capsys, NAME, "--window", "30d")
    assert status == 0
    lines = text.splitlines()
    assert lines[0].startswith(f"{NAME} (journey {story}), from ")
    assert lines[1].startswith("entered ")
    assert any(line.startswith("Sign up ") for line in lines), "stages are named as on the map"
    assert any(line.startswith("node ") for line in lines)


def test_an_unknown_or_ambiguous_journey_exits_1_naming_it(
    story: int, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert kpis(capsys, "Nope") == (1, "", "journey: there is no journey named 'Nope'\n")
    assert kpis(capsys, "999") == (1, "", "journey: there is no journey with id 999\n")
    create_journey(session=session, doc=story_map(NAME))
    session.commit()
    status, _, err = kpis(capsys, NAME)
    assert status == 1
    assert f"2 journeys are named '{NAME}'" in err


def test_the_window_must_be_one_the_pages_offer(story: int, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["kpis", str(story), "--window", "3d"])
    assert exit_.value.code == 2
    assert "invalid choice: '3d'" in capsys.readouterr().err


def test_an_all_time_window_names_no_dates(story: int, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = kpis(capsys, str(story), "--json")
    figures = json.loads(out)
    assert (figures["since"], figures["until"]) == (None, None)
    _, out, _ = kpis(capsys, str(story), "--json", "--window", "24h")
    figures = json.loads(out)
    assert figures["until"] is not None
    assert figures["since"] is not None
    assert timedelta(hours=23) < utc_now() - datetime.fromisoformat(figures["since"]) < timedelta(hours=25)
