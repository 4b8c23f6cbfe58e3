"""Which AR(2) process made this sequence? A sequence-classification task as a seqbench plugin.

Four stationary AR(2) processes with unit variance and spectral peaks at nearby frequencies
(see :mod:`seqbench_ar_task.data`); a model must tell them apart from the temporal structure
alone. The exact Bayes classifier's accuracy and cross-entropy on the same test set are
recorded as the best possible values (Shumway & Stoffer, "Time Series Analysis and Its
Applications", 4th ed., ch. 3-4: AR spectra and exact Gaussian likelihood).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ
from seqbench.specs import Budget, MetricSpec, Preset, TaskContext, TaskSpec
from seqbench_ar_task.data import ARProcess, bayes_scores, sample
from seqbench_ar_task.task import ARSpectrumTask

SEQBENCH_API = "1"  # the seqbench plugin API this plugin is written against (seqbench.PLUGIN_API)

# Peaks 0.04 pi apart, poles at radius 0.8: the exact Bayes classifier scores about 0.70 / 0.83 /
# 0.93 accuracy at 32 / 64 / 128 steps (4000 sequences each), so every preset leaves room between
# a model and the best possible, and longer context visibly helps.
PROCESSES = tuple(ARProcess(angle=np.pi * (0.2 + 0.04 * k), radius=0.8) for k in range(4))


@dataclass(frozen=True)
class ARSizes:
    """Sequence length and split sizes at one preset."""

    length: int
    train: int
    val: int
    test: int


SIZES: dict[Preset, ARSizes] = {
    "smoke": ARSizes(length=32, train=512, val=128, test=256),
    "quick": ARSizes(length=64, train=20000, val=1000, test=4000),
    "paper": ARSizes(length=128, train=100000, val=5000, test=20000),
}
BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=30, batch_size=32, lr=3e-3, eval_batch_size=128),
    "quick": Budget(steps=1500, batch_size=64, lr=3e-3, eval_every=250),
    "paper": Budget(steps=20000, batch_size=128, lr=1e-3, eval_every=2000),
}
METRICS = (
    MetricSpec("accuracy", "max", "fraction of test sequences assigned to the process that made them"),
    MetricSpec("cross_entropy", "min", "mean negative log-probability of the true process", "nats"),
)


def build(spec: TaskSpec, context: TaskContext) -> ARSpectrumTask:
    sizes = SIZES[context.preset]
    splits, bayes = {}, {}
    for index, split in enumerate(("train", "val", "test")):
        rng = np.random.default_rng([context.data_seed, index])  # one stream per split: splits never overlap
        x, labels = sample(PROCESSES, getattr(sizes, split), sizes.length, rng)
        splits[split] = (torch.from_numpy(x).unsqueeze(-1), torch.from_numpy(labels))
        if split == "test":
            bayes = bayes_scores(x, labels, PROCESSES)
    return ARSpectrumTask(spec, context, splits, len(PROCESSES), bayes)


@hookimpl
def seqbench_register_tasks() -> list[TaskSpec]:
    def builder(context: TaskContext) -> ARSpectrumTask:
        return build(spec, context)

    spec = TaskSpec("ar-spectrum", (CAUSAL_SEQ,), builder, "which of 4 unit-variance AR(2) processes made a sequence",
                    METRICS, "steps", BUDGETS, family="classification", paper="Shumway & Stoffer 2017")
    return [spec]
