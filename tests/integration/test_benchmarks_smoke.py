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
    "intake.py": ["--events", "500", "--connections", "2"],
    # Both scenarios, small: 300 customers and 4 kills; 30 customers beside a provider that hangs for 3 s.
    "soak.py": [
        *("--customers", "300", "--kills", "4", "--kill-every", "1.5", "--provider-customers", "30"),
        *("--arrival", "5", "--hang-window", "3", "--hang-seconds", "5", "--settle", "30"),
    ],
}


def test_every_benchmark_has_a_smoke_run() -> None:
    shipped = {path.name for path in (ROOT / "benchmarks").glob("*.py")}
    # canvas.py drives the running app in a browser and is rebuilt by the canvas issue (#14); until then it has no
    # tiny mode here.
    assert shipped - {"canvas.py", "__init__.py"} == set(TINY)


@pytest.mark.parametrize("script", sorted(TINY))
def test_a_benchmark_runs_in_a_tiny_size_and_prints_its_figures(script: str) -> None:
    arguments = [*TINY[script], *(["--port", str(free_port())] if script == "intake.py" else [])]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "/s" in done.stdout or " ms" in done.stdout, done.stdout[-2000:]
