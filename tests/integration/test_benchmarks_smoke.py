"""Every benchmark run in a tiny size, so none rots unnoticed: it must finish and print its figures. Timings are
never asserted (benchmarks/ prints them, docs/benchmarks.md says how to read them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.journey_harness import free_port

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "compile_map.py": ["--nodes", "30", "--runs", "2"],
    "engine_throughput.py": ["--customers", "200", "--due", "200", "--waiting", "1000", "--naive-jobs", "100"],
    "metrics.py": ["--transitions", "2000", "--repeat", "1", "--sqlite-only"],
    "forecast.py": ["--events", "5000", "--customers", "500"],
    # Two workers on PostgreSQL: runs then commit out of id order, which the latency poller must still see.
    "intake.py": [
        *("--events", "500", "--latency-events", "500", "--connections", "2"),
        *("--waiting", "0,1000", "--workers", "2", "--rounds", "2"),
    ],
    # Builds the plain React Flow page (npm) and the app's production build, then opens a 3-card map once on each
    # side: about 40 s on a 2-core machine, most of it the build.
    "canvas.py": ["--sizes", "3", "--repeat", "1", "--seconds", "0.3"],
    # Both scenarios, small: 300 customers and 4 kills; 30 customers beside a provider that hangs for 3 s.
    "soak.py": [
        *("--customers", "300", "--kills", "4", "--kill-every", "1.5", "--provider-customers", "30"),
        *("--arrival", "5", "--hang-window", "3", "--hang-seconds", "5", "--settle", "30"),
    ],
}


def test_every_benchmark_has_a_smoke_run() -> None:
    shipped = {path.name for path in (ROOT / "benchmarks").glob("*.py")}
    # reference_intake.py is the app intake.py measures beside the product, not a benchmark.
    assert shipped - {"__init__.py", "reference_intake.py"} == set(TINY)


@pytest.mark.parametrize("script", sorted(TINY))
def test_a_benchmark_runs_in_a_tiny_size_and_prints_its_figures(script: str) -> None:
    arguments = [*TINY[script], *(["--port", str(free_port())] if script == "intake.py" else [])]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "/s" in done.stdout or " ms" in done.stdout, done.stdout[-2000:]
    if script == "intake.py":
        # The reaction latency is measured, not just the throughput: every new customer was seen reacted to.
        assert "ack -> reacted p50" in done.stdout, done.stdout[-2000:]
        assert "(250/250 customers)" in done.stdout, done.stdout[-2000:]
