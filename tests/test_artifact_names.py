"""Jobs that share an output folder never overwrite each other's artifacts.

A run's artifacts go to ``<output>/artifacts/<task>/``; the same model, device and seed at another
preset (a paper-preset run beside the published quick one) or with other options must get its own
files, or the report shows one job's pictures under the other's row.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from seqbench.manager import get_registry
from seqbench.specs import JobConfig, RunOptions
from seqbench.train import run_job


def test_preset_and_options_get_their_own_artifact_files(tmp_path: Path) -> None:
    registry = get_registry()
    spec = registry.task("tree-synthetic")
    budget = replace(spec.budgets["smoke"], steps=2, eval_every=2)
    base = JobConfig("drnn", "tree-synthetic", "cpu", 0, "smoke", budget, budget.lr, RunOptions(measure=False))
    threaded = replace(base, options=replace(base.options, threads=1))
    paths = []
    for config in (base, threaded):
        result = run_job(config, registry.model("drnn"), spec, tmp_path)
        assert result.status == "ok", result.message
        assert len(result.artifacts) == 1
        paths.append(Path(result.artifacts[0]))
    assert paths[0] != paths[1]
    assert all(p.is_file() for p in paths)  # the second job did not replace the first one's file
    for path, config in zip(paths, (base, threaded), strict=True):
        assert path.name == f"tree-synthetic-drnn-smoke-cpu-s0-{config.hash()[:8]}.txt"
