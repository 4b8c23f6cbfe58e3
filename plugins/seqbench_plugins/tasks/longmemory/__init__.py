"""Long-memory tasks of Bai, Kolter & Koltun, "An empirical evaluation of generic convolutional
and recurrent networks for sequence modeling", arXiv:1803.01271, 2018 (Table 1).

``adding-200`` / ``adding-400`` / ``adding-600`` (the adding problem at T = 200, 400, 600; MSE),
``copy-memory`` (T = 1000 at ``paper``; per-step cross-entropy), ``seq-digits`` and
``perm-digits`` (pixel-by-pixel classification of scikit-learn's digits, the paper's sequential
and permuted MNIST; accuracy). Protocols in :mod:`~seqbench_plugins.tasks.longmemory.data`.
``smoke`` shrinks every sequence; ``quick`` keeps each task's protocol and the adding problem's
T, with copy memory at T = 100 and the native 64-pixel digits so that a CPU finishes;
``paper`` runs the paper's T and 784-pixel digits (upsampled to 28x28). Accepts ``CAUSAL_SEQ``
backbones, with a linear read-out (:mod:`~seqbench_plugins.tasks.longmemory.task`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ
from seqbench.specs import Budget, MetricSpec, Preset, TaskContext, TaskSpec
from seqbench_plugins.tasks.longmemory import data as lm
from seqbench_plugins.tasks.longmemory.metrics import AddingMSE, CopyLoss, DigitAccuracy
from seqbench_plugins.tasks.longmemory.task import LongMemoryTask

PAPER = "Bai, Kolter & Koltun 2018"


@dataclass(frozen=True)
class Sizes:
    """``length``: T of the adding problem, the blank period T of copy memory, or the digit image
    side (8: native 64 steps; 28: 784 steps; 4, at smoke only: 16 steps); then examples per split."""

    length: int
    train: int
    val: int
    test: int


def adding_sizes(steps: int) -> dict[Preset, Sizes]:
    return {"smoke": Sizes(12, 128, 32, 32), "quick": Sizes(steps, 10000, 500, 1000),
            "paper": Sizes(steps, 50000, 1000, 1000)}  # the paper's code: 50,000 train, 1,000 test


COPY_SIZES: dict[Preset, Sizes] = {"smoke": Sizes(8, 128, 32, 32), "quick": Sizes(100, 10000, 500, 1000),
                                   "paper": Sizes(1000, 10000, 1000, 1000)}  # the paper's code: 10,000 / 1,000
DIGIT_SIZES: dict[Preset, Sizes] = {"smoke": Sizes(4, 128, 32, 32), "quick": Sizes(8, 1197, 200, 400),
                                    "paper": Sizes(28, 1197, 200, 400)}  # all 1,797 digits

ADDING_BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=20, batch_size=16, lr=3e-3, eval_batch_size=32),
    # quick: 1,000 steps keeps the T = 600 TCN (8 levels of 96 channels) inside quick's 1800 s job limit on one core
    "quick": Budget(steps=1000, batch_size=32, lr=2e-3, eval_every=250, eval_batch_size=500),
    "paper": Budget(steps=15000, batch_size=32, lr=2e-3, eval_every=1000, eval_batch_size=500),  # ~10 epochs
}
COPY_BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=20, batch_size=16, lr=3e-3, eval_batch_size=32),
    "quick": Budget(steps=1500, batch_size=32, lr=2e-3, eval_every=250, eval_batch_size=500),
    "paper": Budget(steps=15000, batch_size=32, lr=5e-4, eval_every=1000, eval_batch_size=250),  # ~50 epochs
}
DIGIT_BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=20, batch_size=16, lr=3e-3, eval_batch_size=32),
    "quick": Budget(steps=1500, batch_size=64, lr=2e-3, eval_every=250, eval_batch_size=400),
    "paper": Budget(steps=6000, batch_size=64, lr=2e-3, eval_every=500, eval_batch_size=200),
}

ADDING_METRICS = (MetricSpec("mse", "min", "mean squared error of the predicted sum (Table 1's figure)"),
                  MetricSpec("mse_ratio", "min", "mse / 1/6, the MSE of always predicting 1"))
COPY_METRICS = (
    MetricSpec("loss", "min", "cross-entropy per output over all T + 20 steps (Table 1's figure)", "nats"),
    MetricSpec("recall_loss", "min", "cross-entropy per output over the 10 recall steps", "nats"),
    MetricSpec("copy_accuracy", "max", "fraction of the 10 recalled symbols right"),
    MetricSpec("memoryless_ratio", "min", "loss / 10 ln 8 / (T + 20), the best memoryless loss"),
)
DIGIT_METRICS = (MetricSpec("accuracy", "max", "test accuracy of the class read at the last pixel"),
                 MetricSpec("cross_entropy", "min", "mean cross-entropy of the class", "nats"))


def _splits(make: Callable[[int, np.random.Generator], tuple], sizes: Sizes, seed: int) -> dict[str, tuple]:
    """Each split from its own seeded stream, so that a split's size never changes another's data."""
    counts = {"train": sizes.train, "val": sizes.val, "test": sizes.test}
    return {name: make(n, np.random.default_rng([seed, i])) for i, (name, n) in enumerate(counts.items())}


def build_adding(steps: int, spec: TaskSpec, context: TaskContext) -> LongMemoryTask:
    s = adding_sizes(steps)[context.preset]
    splits = _splits(lambda n, rng: lm.adding(n, s.length, rng), s, context.data_seed)
    return LongMemoryTask(spec, context, splits, "regression", s.length, 1, AddingMSE)


def build_copy(spec: TaskSpec, context: TaskContext) -> LongMemoryTask:
    s = COPY_SIZES[context.preset]
    splits = _splits(lambda n, rng: lm.copy_memory(n, s.length, rng), s, context.data_seed)
    return LongMemoryTask(spec, context, splits, "copy", lm.copy_memory_span(s.length), lm.COPY_CLASSES,
                          lambda: CopyLoss(lm.memoryless_loss(s.length)))


def build_digits(permuted: bool, spec: TaskSpec, context: TaskContext) -> LongMemoryTask:
    s = DIGIT_SIZES[context.preset]
    x, y = lm.digit_sequences(s.length, permuted)
    parts = lm.split(len(y), (s.train, s.val, s.test), context.data_seed)
    splits = {name: (x[i], y[i]) for name, i in zip(("train", "val", "test"), parts, strict=True)}
    return LongMemoryTask(spec, context, splits, "classify", s.length**2, lm.DIGIT_CLASSES, DigitAccuracy)


def _spec(name: str, build: Callable[[TaskSpec, TaskContext], LongMemoryTask], summary: str,
          metrics: tuple[MetricSpec, ...], budgets: Mapping[Preset, Budget]) -> TaskSpec:
    def builder(context: TaskContext) -> LongMemoryTask:
        return build(spec, context)

    spec = TaskSpec(name, (CAUSAL_SEQ,), builder, summary, metrics, "steps", budgets, "long-memory", PAPER)
    return spec


@hookimpl
def seqbench_register_tasks() -> list[TaskSpec]:
    adding = [
        _spec(f"adding-{t}", partial(build_adding, t), f"adding problem, T = {t}: sum the two marked values (MSE)",
              ADDING_METRICS, ADDING_BUDGETS)
        for t in (200, 400, 600)
    ]
    return [
        *adding,
        _spec("copy-memory", build_copy, "copy memory: repeat 10 symbols after T blanks (T = 1000 at paper)",
              COPY_METRICS, COPY_BUDGETS),
        _spec("seq-digits", partial(build_digits, False),
              "sequential digits: classify scikit-learn's digits pixel by pixel (64 steps; 784 at paper)",
              DIGIT_METRICS, DIGIT_BUDGETS),
        _spec("perm-digits", partial(build_digits, True),
              "permuted digits: the same with a fixed pixel permutation", DIGIT_METRICS, DIGIT_BUDGETS),
    ]
