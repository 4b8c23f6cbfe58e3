"""Learning curves: the training loop records loss and validation metric against steps and seconds."""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import pairwise

from seqbench.manager import get_registry
from seqbench.specs import JobConfig, RunOptions
from seqbench.train import run_job


def test_the_training_loop_records_its_learning_curve() -> None:
    registry = get_registry()
    spec = registry.task("lm-hmm")
    budget = replace(spec.budgets["smoke"], steps=12, eval_every=5)
    config = JobConfig("gru", "lm-hmm", "cpu", 0, "smoke", budget, budget.lr, RunOptions(measure=False))
    result = run_job(config, registry.model("gru"), spec)
    assert result.status == "ok", result.message
    curve = result.curve
    assert [p.step for p in curve] == list(range(1, 13))  # 12 steps < 100 points: one point per step
    assert all(b.seconds >= a.seconds for a, b in pairwise(curve))
    validated = [p.step for p in curve if p.val_metric is not None]
    assert validated == [5, 10, 12]  # every eval_every steps, and the trained weights at the end
    assert all(math.isfinite(p.train_loss) and p.train_loss > 0 for p in curve)
    assert curve[-1].val_metric is not None and curve[-1].val_metric > 1  # a perplexity


def test_a_fitted_baseline_has_no_curve() -> None:
    registry = get_registry()
    spec = registry.task("lm-hmm")
    budget = spec.budgets["smoke"]
    config = JobConfig("ngram", "lm-hmm", "cpu", 0, "smoke", budget, budget.lr, RunOptions(measure=False))
    result = run_job(config, registry.model("ngram"), spec)
    assert result.status == "ok" and result.curve == ()
