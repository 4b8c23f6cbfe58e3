"""The example task's own tests, as a plugin author writes them: the ``seqbench_registry``
fixture comes from seqbench's pytest plugin (no conftest), the checks from seqbench.testing."""

from __future__ import annotations

import numpy as np
from seqbench_ar_task import PROCESSES
from seqbench_ar_task.data import bayes_scores, log_likelihoods, sample

from seqbench.manager import Registry
from seqbench.testing import assert_pair_runs, check_task, compatible_tasks


def test_task_contract(seqbench_registry: Registry) -> None:
    check_task(seqbench_registry.task("ar-spectrum"))  # problems, batches, metric names, whole-split scoring


def test_every_backbone_meets_the_task(seqbench_registry: Registry) -> None:
    assert "ar-spectrum" in compatible_tasks("gru", seqbench_registry)
    result = assert_pair_runs("gru", "ar-spectrum", registry=seqbench_registry)
    assert set(result.reference) == {"accuracy", "cross_entropy"}


def test_processes_have_unit_variance_and_their_own_autocorrelation() -> None:
    for process in PROCESSES:
        x, _ = sample((process,), 2000, 64, np.random.default_rng(1))
        assert abs(x.var() - 1) < 0.05
        lag1 = float((x[:, 1:] * x[:, :-1]).mean())
        assert abs(lag1 - process.lag1) < 0.03


def test_bayes_classifier_is_the_argmax_of_exact_likelihoods() -> None:
    x, labels = sample(PROCESSES, 3000, 32, np.random.default_rng(2))
    scores = bayes_scores(x, labels, PROCESSES)
    assert 0.6 < scores["accuracy"] < 0.8  # well above chance (0.25), far from perfect at 32 steps
    longer, long_labels = sample(PROCESSES, 3000, 128, np.random.default_rng(2))
    assert bayes_scores(longer, long_labels, PROCESSES)["accuracy"] > scores["accuracy"] + 0.1
    # The likelihood of a process's own samples is highest under that process on average.
    ll = log_likelihoods(x, PROCESSES)
    for k in range(len(PROCESSES)):
        assert ll[labels == k].mean(0).argmax() == k
