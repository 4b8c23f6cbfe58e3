"""The example third-party plugin (examples/seqbench-window-mlp), installed with pip as CI does,
adds a model through the `seqbench` entry point with no change to seqbench."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from seqbench.manager import load_registry
from seqbench.testing import assert_pair_runs, compatible_tasks

try:
    metadata.distribution("seqbench-window-mlp")
    INSTALLED = True
except metadata.PackageNotFoundError:
    INSTALLED = False

pytestmark = pytest.mark.skipif(
    not INSTALLED and not os.environ.get("CI"),
    reason="pip install ./examples/seqbench-window-mlp to run (CI always does)",
)


def test_example_is_discovered_through_its_entry_point() -> None:
    assert INSTALLED, "CI must install examples/seqbench-window-mlp"
    registry = load_registry()
    record = registry.origin["model:window-mlp"]
    assert (record.origin, record.distribution, record.entry_point) == (
        "entry point", "seqbench-window-mlp", "seqbench_window_mlp")
    tasks = compatible_tasks("window-mlp", registry)
    assert {"lm-hmm", "moving-digits"} <= set(tasks)  # a new backbone joins every task family


def test_example_in_list_pairs_and_in_a_run(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "seqbench.cli"]
    pairs = subprocess.run([*cli, "list", "pairs", "--models", "window-mlp"], capture_output=True, text=True,
                           check=True).stdout
    assert "window-mlp" in pairs and "yes" in pairs
    run = subprocess.run([*cli, "run", "--models", "window-mlp", "--tasks", "lm-hmm", "--preset", "smoke",
                          "--no-measure", "--output", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "| window-mlp" in (tmp_path / "leaderboard.md").read_text()


def test_example_passes_the_author_helpers() -> None:
    assert_pair_runs("window-mlp", "lm-hmm")
