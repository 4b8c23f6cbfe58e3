"""The runtime side of a task plugin: data, adapters, loss and evaluation.

A :class:`~seqbench.specs.TaskSpec` is cheap metadata; its ``build`` returns a
:class:`Task`, which owns the data and knows how to call, train and score a model.
The training loop (:mod:`seqbench.train`) only ever talks to this interface, so a new
task family adds a plugin and touches nothing in the host.

Evaluation is the host's (:meth:`Task.evaluate`): one loop for every task puts the model in
eval mode, turns autograd off, moves each batch of the split to the device, feeds
``(predict(module, batch), batch)`` to the task's :class:`Metric` and restores the model's
previous training mode, whatever happens. A task supplies only the metric object
(:meth:`Task.metric`): it accumulates over batches and computes once at the end, so the test
split is scored whole (no dropped last batch, no mean of per-batch means; masked metrics
averaged over every valid entry of the split).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from seqbench.signatures import CAUSAL_SEQ, Signature
from seqbench.specs import Budget, ModelSpec, TaskContext, TaskSpec

Batch = Any  # a tensor, or a tuple / list / dict / dataclass of tensors


def to_device(batch: Batch, device: torch.device | str) -> Batch:
    """Move every tensor inside ``batch`` to ``device``, keeping the structure."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # NamedTuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    if is_dataclass(batch) and not isinstance(batch, type):
        return replace(batch, **{f.name: to_device(getattr(batch, f.name), device) for f in fields(batch)})
    return batch


class Metric(Protocol):
    """What a task's metric object does for the host's evaluation loop.

    ``update(output, batch)`` is called once per batch of the split, with the output of
    ``Task.predict(module, batch)`` and the batch itself (both on the device, autograd off);
    ``compute()`` once at the end returns every metric the task's spec declares, by name.
    A fresh object is made for every pass (:meth:`Task.metric`), so no state leaks between
    splits or passes.
    """

    def update(self, output: Any, batch: Batch) -> None: ...

    def compute(self) -> dict[str, float]: ...


class PairMetric:
    """A :class:`Metric` from a torchmetrics-style accumulator with ``update(prediction,
    target)`` and ``compute() -> dict``: ``pair(output, batch)`` picks (prediction, target)."""

    def __init__(self, inner: Any, pair: Callable[[Any, Batch], tuple[Any, ...]]) -> None:
        self.inner, self.pair = inner, pair

    def update(self, output: Any, batch: Batch) -> None:
        self.inner.update(*self.pair(output, batch))

    def compute(self) -> dict[str, float]:
        return dict(self.inner.compute())


class IncompatibleModel(ValueError):
    """Raised when a model shares no signature with a task."""


class Task(ABC):
    """Base class of every task. Subclasses fill in the data and scoring methods.

    Abstract: ``problem``, ``train_batches``, ``eval_batches``, ``count``, ``loss``, ``predict``.
    Scoring: implement :meth:`metric` (the host's :meth:`evaluate` loop then scores every
    split the same way for every task). A task written before the host owned the loop may
    still override :meth:`evaluate` itself; it then owns eval mode, ``no_grad``, device moves
    and restoring the training mode, and :meth:`metric` is never called.
    """

    def __init__(self, spec: TaskSpec, context: TaskContext) -> None:
        self.spec = spec
        self.context = context

    @property
    def budget(self) -> Budget:
        return self.spec.budgets[self.context.preset]

    # -- models ---------------------------------------------------------------------
    @abstractmethod
    def problem(self, signature: Signature) -> object:
        """The problem dataclass a model builder receives for ``signature``."""

    def adapter(self, backbone: nn.Module) -> nn.Module:
        """Wrap a ``CAUSAL_SEQ`` backbone into a model for this task."""
        raise IncompatibleModel(f"task {self.spec.name!r} has no causal-sequence adapter")

    def build_module(self, model: ModelSpec) -> nn.Module:
        """Build ``model`` for this task through the first signature both share."""
        shared = [s for s in self.spec.accepts if s in model.signatures]
        if not shared:
            raise IncompatibleModel(
                f"model {model.name!r} implements {[str(s) for s in model.signatures]}, "
                f"task {self.spec.name!r} accepts {[str(s) for s in self.spec.accepts]}"
            )
        module = model.build(self.problem(shared[0]), self.context.preset)
        return self.adapter(module) if shared[0] == CAUSAL_SEQ else module

    # -- data -----------------------------------------------------------------------
    @abstractmethod
    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[Batch]:
        """Endless shuffled training batches (CPU tensors)."""

    @abstractmethod
    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        """Every example of ``split`` ("train", "val", "test") once, last batch kept."""

    @abstractmethod
    def count(self, batch: Batch) -> tuple[int, int]:
        """(samples, units) in ``batch``; units are the task's own (tokens, frames...)."""

    # -- training and scoring -------------------------------------------------------
    @abstractmethod
    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        """Scalar training loss of ``module`` on ``batch`` (already on the device)."""

    @abstractmethod
    def predict(self, module: nn.Module, batch: Batch) -> Any:
        """Inference forward pass on ``batch`` (timed for inference throughput)."""

    def metric(self, split: str) -> Metric:
        """A fresh accumulator for one pass over ``split`` (see :class:`Metric`)."""
        raise NotImplementedError(f"task {self.spec.name!r} supplies no metric: implement Task.metric(split) "
                                  "(or override Task.evaluate)")

    def evaluate(self, module: nn.Module, split: str, device: torch.device) -> dict[str, float]:
        """Metrics over the whole ``split``; keys include every ``MetricSpec`` name.

        The host's loop: eval mode and no autograd for the pass, each batch of
        ``eval_batches(split, budget.eval_batch_size)`` moved to ``device``, the model's
        training mode restored afterwards (also when scoring fails).
        """
        metric = self.metric(split)
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                for batch in self.eval_batches(split, self.budget.eval_batch_size):
                    batch = to_device(batch, device)
                    metric.update(self.predict(module, batch), batch)
        finally:
            module.train(was_training)
        return metric.compute()

    def reference(self) -> dict[str, float]:
        """Best possible value per metric where known (e.g. oracle perplexity)."""
        return {}

    def save_artifacts(self, module: nn.Module, directory: Path, label: str) -> list[Path]:
        """Optional pictures or samples of ``module``'s predictions (written atomically)."""
        return []


class TensorTask(Task):
    """A task whose splits are tuples of equally long tensors (first dim = examples).

    Subclasses set ``self.splits = {"train": (...), "val": (...), "test": (...)}``.
    """

    splits: dict[str, tuple[torch.Tensor, ...]]

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[Batch]:
        data = self.splits["train"]
        n = len(data[0])
        while True:
            order = torch.randperm(n, generator=generator)
            for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
                index = order[start : start + batch_size]
                yield tuple(t[index] for t in data)

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        data = self.splits[split]
        for start in range(0, len(data[0]), batch_size):  # never drop the last batch
            yield tuple(t[start : start + batch_size] for t in data)
