"""The example third-party task plugin (examples/seqbench-ar-task), installed with pip as CI does,
adds a task through the `seqbench` entry point; every backbone meets it; it validates; its own
tests use seqbench's pytest plugin (fixture `seqbench_registry`, entry point pytest11)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from seqbench.cli import main
from seqbench.manager import load_registry
from seqbench.testing import compatible_tasks

EXAMPLE = Path(__file__).parents[1] / "examples" / "seqbench-ar-task"
try:
    metadata.distribution("seqbench-ar-task")
    INSTALLED = True
except metadata.PackageNotFoundError:
    INSTALLED = False

pytestmark = pytest.mark.skipif(
    not INSTALLED and not os.environ.get("CI"),
    reason="pip install ./examples/seqbench-ar-task to run (CI always does)",
)


def test_example_task_is_discovered_and_meets_every_backbone() -> None:
    assert INSTALLED, "CI must install examples/seqbench-ar-task"
    registry = load_registry()
    record = registry.origin["task:ar-spectrum"]
    assert (record.origin, record.distribution, record.entry_point) == (
        "entry point", "seqbench-ar-task", "seqbench_ar_task")
    backbones = {"rnn", "lstm", "gru", "tcn", "transformer"}
    assert all("ar-spectrum" in compatible_tasks(m, registry) for m in backbones)


def test_example_task_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "seqbench-ar-task", "--no-jobs"]) == 0
    out = capsys.readouterr().out
    assert "ok    task ar-spectrum" in out and "verdict: PASS" in out


def test_example_task_in_a_run(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "seqbench.cli", "run", "--models", "gru", "--tasks", "ar-spectrum",
                          "--preset", "smoke", "--no-measure", "--output", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    board = (tmp_path / "leaderboard.md").read_text()
    assert "## ar-spectrum (smoke)" in board and "| gru" in board


def test_example_task_own_tests_pass_with_the_pytest_plugin() -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=EXAMPLE,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout
