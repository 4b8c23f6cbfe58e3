"""Every hook of seqbench, documented. Project name ``seqbench``; entry-point group ``seqbench``.

A plugin is any module or object with functions marked ``@seqbench.hookimpl`` whose names
match these specs. Built-in plugins go through exactly the same hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import pandas as pd

    from seqbench.specs import JobConfig, JobResult, ModelSpec, TaskSpec

PROJECT = "seqbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def seqbench_register_models() -> list[ModelSpec]:  # type: ignore[empty-body]
    """Return the model specs this plugin provides."""


@hookspec
def seqbench_register_tasks() -> list[TaskSpec]:  # type: ignore[empty-body]
    """Return the task specs this plugin provides."""


@hookspec
def seqbench_job_finished(config: JobConfig, result: JobResult, output_dir: Path) -> None:
    """Observer: one job ended (any status) and its row is committed to the store."""


@hookspec
def seqbench_write_reports(results: pd.DataFrame, output_dir: Path) -> list[Path]:  # type: ignore[empty-body]
    """Reporter: write report files from the store's rows (one row per job); return paths.

    ``results`` has columns model, task, device, seed, preset, status, message, plus
    ``metric.<name>``, ``measure.<name>`` and ``reference.<name>`` columns.
    Files must be written atomically (see :func:`seqbench.store.atomic_write`).
    """


@hookspec
def seqbench_reports_written(paths: list[Path], output_dir: Path) -> None:
    """Observer: every reporter has written its files."""


