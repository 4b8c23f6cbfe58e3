"""Checks of a task's runtime contract (:class:`seqbench.task.Task`), run on the built task."""

from __future__ import annotations

import math
from dataclasses import is_dataclass, replace
from typing import Any

import torch
from torch import nn

from seqbench.checks import CheckFailed, check_metrics, check_task_spec
from seqbench.signatures import ALL, CAUSAL_SEQ, SeqProblem, Signature
from seqbench.specs import Preset, TaskContext, TaskSpec
from seqbench.task import IncompatibleModel


def check_problems(task: Any, spec: TaskSpec) -> None:
    """``problem(s)`` returns a dataclass for each accepted signature; for any other it either
    answers or raises :class:`~seqbench.task.IncompatibleModel` (a ``ValueError``), nothing else."""
    for signature in spec.accepts:
        problem = task.problem(signature)
        if not is_dataclass(problem):
            raise CheckFailed(f"task {spec.name!r}: problem({signature}) must return a problem dataclass, "
                              f"got {type(problem).__name__}")
    # The host only asks for accepted signatures; asked for another, a task may answer or raise,
    # but a raise must be IncompatibleModel so callers can tell "not this pair" from a bug.
    other = next(s for s in (*ALL, Signature("no-such-signature")) if s not in spec.accepts)
    try:
        task.problem(other)
    except IncompatibleModel:
        pass
    except Exception as exc:
        raise CheckFailed(f"task {spec.name!r}: problem({other}) must raise seqbench.task.IncompatibleModel "
                          f"for a signature it does not accept, raised {type(exc).__name__}: {exc}") from None


def _probe_backbone(problem: SeqProblem) -> nn.Module:
    """A small causal GRU: what ``check_task`` feeds the task's adapter."""

    class Probe(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(problem.input_size, 8, batch_first=True)
            self.output_size = 8

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.rnn(x)[0]

    return Probe()


def check_task(spec: TaskSpec, preset: Preset = "smoke", data: dict[str, str] | None = None) -> None:
    """Build the task and check its runtime contract: ``problem()`` per signature, training and
    evaluation batches, ``count()``, and (through its ``CAUSAL_SEQ`` adapter, if it accepts it)
    that ``evaluate`` reports exactly the declared metrics and does not depend on the evaluation
    batch size (the whole split is scored, the last batch kept, means not averaged per batch)."""
    check_task_spec(spec)
    task = spec.build(TaskContext(preset, dict(data or {})))
    check_problems(task, spec)
    batch = next(iter(task.train_batches(spec.budgets[preset].batch_size, torch.Generator().manual_seed(0))))
    samples, units = task.count(batch)
    if not (isinstance(samples, int) and isinstance(units, int) and samples > 0 and units > 0):
        raise CheckFailed(f"task {spec.name!r}: count(batch) must be two positive ints, got {(samples, units)}")
    if sum(1 for _ in task.eval_batches("test", spec.budgets[preset].eval_batch_size)) == 0:
        raise CheckFailed(f"task {spec.name!r}: eval_batches('test', ...) yielded no batch")
    if CAUSAL_SEQ not in spec.accepts:
        return
    problem = task.problem(CAUSAL_SEQ)
    if not isinstance(problem, SeqProblem):
        raise CheckFailed(f"task {spec.name!r}: problem(CAUSAL_SEQ) must return a SeqProblem, got {problem!r}")
    torch.manual_seed(0)
    module = task.adapter(_probe_backbone(problem)).eval()
    metrics = task.evaluate(module, "test", torch.device("cpu"))
    check_metrics(spec, metrics)
    budget = spec.budgets[preset]
    task.spec = replace(spec, budgets={**spec.budgets, preset: replace(budget, eval_batch_size=7)})
    try:
        again = task.evaluate(module, "test", torch.device("cpu"))
    finally:
        task.spec = spec
    drift = {k: (v, again[k]) for k, v in metrics.items()
             if not math.isclose(v, again.get(k, math.nan), rel_tol=1e-4, abs_tol=1e-6)}
    if drift:
        raise CheckFailed(f"task {spec.name!r}: metrics depend on the evaluation batch size "
                          f"({budget.eval_batch_size} vs 7): {drift}; score the whole split (sum, then divide)")
