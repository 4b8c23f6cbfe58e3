"""What reporters receive: the store's results and the metadata to rank them, as typed frozen values.

Everything here is read from the store, never from the plugins installed today: a task whose
plugin was uninstalled still ranks, in the direction its spec said when it ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from seqbench.specs import ModelSpec, TaskSpec


@dataclass(frozen=True)
class TaskMeta:
    """Per task, what ranking and rendering need, recorded in the store when a run starts."""

    name: str
    primary: str  # the primary metric, ranked on
    goals: tuple[tuple[str, str], ...]  # (metric, "min" | "max") for every metric, in the task's order
    unit: str  # natural throughput unit ("tokens", "frames", ...)
    family: str = ""
    metric_units: tuple[tuple[str, str], ...] = ()  # (metric, unit) for the metrics that have one

    def unit_of(self, metric: str) -> str:
        """The metric's unit ("" when it has none or the store predates metric units)."""
        return dict(self.metric_units).get(metric, "")

    @property
    def goal(self) -> str:
        """Direction of the primary metric."""
        return self.goal_of(self.primary)

    def goal_of(self, metric: str) -> str:
        for name, goal in self.goals:
            if name == metric:
                return goal
        raise KeyError(f"task {self.name!r} recorded no metric {metric!r}; recorded: {[g[0] for g in self.goals]}")

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.goals)

    @classmethod
    def of(cls, spec: TaskSpec) -> TaskMeta:
        return cls(spec.name, spec.primary.name, tuple((m.name, m.goal) for m in spec.metrics), spec.unit, spec.family,
                   tuple((m.name, m.unit) for m in spec.metrics if m.unit))


@dataclass(frozen=True)
class ModelMeta:
    name: str
    baseline: bool

    @classmethod
    def of(cls, spec: ModelSpec) -> ModelMeta:
        return cls(spec.name, bool(spec.baseline))


@dataclass(frozen=True)
class ReportSection:
    """A section of the HTML report, returned by a ``seqbench_report_sections`` hook.

    ``html`` is a fragment (no ``<html>`` or ``<body>``) that must be self-contained: images
    inline as ``data:`` URIs or SVG, no scripts or styles from the network. ``task`` places the
    section under that task's heading (``""``: after every task).
    """

    title: str
    html: str
    task: str = ""


@dataclass(frozen=True)
class Results:
    """The argument of the ``seqbench_write_reports`` hook.

    ``frame``: one row per job config: its latest successful attempt, or its latest attempt
    when none succeeded. Columns: ``config_hash, attempt, run_id, model, task, device, seed,
    preset, status, message, traceback, seconds, artifacts``; ``later_status`` and
    ``later_message`` (a failed attempt made after the ranked successful one, else empty);
    ``attempts`` (how many this config has); ``baseline`` (bool, from the store); ``machine``
    (what the row was measured on); and one column per value: ``metric.<name>``,
    ``measure.<name>`` and ``best_possible.<name>`` (the best score a model could reach on the
    task, e.g. an oracle perplexity, where the task knows it).

    ``attempts``: every attempt, oldest first, same columns without the ranking ones.
    ``tasks``: :class:`TaskMeta` per task that has rows (a task with rows but no recorded
    metadata is absent: it cannot be ranked). ``state``: which store state this reflects.
    ``curves``: every learning-curve point, ``attempt, step, seconds, train_loss, val_metric``
    (``attempt`` joins ``frame`` and ``attempts``; ``val_metric`` is the task's primary metric
    on the validation split, NaN where the loop did not evaluate); ``environments``: per run id,
    the environment recorded when the run started (machine, versions, commit); ``sections``:
    what plugins added to the HTML report through ``seqbench_report_sections``.
    """

    frame: pd.DataFrame
    attempts: pd.DataFrame
    tasks: Mapping[str, TaskMeta] = field(default_factory=dict)
    state: str = ""
    curves: pd.DataFrame = field(default_factory=lambda: _empty_curves())
    environments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sections: tuple[ReportSection, ...] = ()

    @property
    def empty(self) -> bool:
        return self.frame.empty


def _empty_curves() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=["attempt", "step", "seconds", "train_loss", "val_metric"])
