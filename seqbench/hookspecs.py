"""Every hook of seqbench, documented. Project name ``seqbench``; entry-point group ``seqbench``.

A plugin is any module or object with functions marked ``@seqbench.hookimpl`` whose names
match these specs. Built-in plugins go through exactly the same hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from seqbench.results import ReportSection, Results
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
def seqbench_write_reports(results: Results, output_dir: Path) -> list[Path]:  # type: ignore[empty-body]
    """Reporter: write report files from the store; return their paths.

    ``results`` is a frozen :class:`seqbench.results.Results`, read from the store alone:
    ``results.frame`` has one row per job config (its latest successful attempt, else its
    latest attempt) with columns model, task, device, seed, preset, status, message,
    traceback, baseline, machine, later_status, later_message, plus ``metric.<name>``,
    ``measure.<name>`` and ``best_possible.<name>``; ``results.attempts`` every attempt;
    ``results.tasks[task]`` a :class:`seqbench.results.TaskMeta` (primary metric, the
    direction of every metric, unit) as recorded when the task ran; ``results.state`` says
    which store state the files reflect. Files must be written atomically (see
    :func:`seqbench.store.atomic_write`).
    """


@hookspec
def seqbench_report_sections(results: Results) -> list[ReportSection]:  # type: ignore[empty-body]
    """Reporter: extra sections for the HTML report (``report.html``), e.g. a task's own plots.

    ``results`` is the same :class:`seqbench.results.Results` the reporters get. Return
    :class:`seqbench.results.ReportSection` values: a title, a self-contained HTML fragment
    (images inline, nothing from the network) and the task it belongs under (``""`` for the
    end of the report). A section that raises is left out with a note in the report.
    """


@hookspec
def seqbench_reports_written(paths: list[Path], output_dir: Path) -> None:
    """Observer: every reporter has written its files."""


