"""The runtime side of the AR-spectrum task: the adapter, the loss and whole-split scoring.

Batches are ``(x (B, T, 1) float, labels (B,) long)``. A ``CAUSAL_SEQ`` backbone reads the
sequence and the class is predicted from its output at the last step, which has seen every
input (the backbone is causal, so earlier outputs have not).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.signatures import CAUSAL_SEQ, SeqProblem, Signature
from seqbench.specs import TaskContext, TaskSpec
from seqbench.task import Batch, IncompatibleModel, TensorTask


class LastStepClassifier(nn.Module):
    """causal backbone -> its output at the last step -> linear head over the classes."""

    def __init__(self, backbone: nn.Module, classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(int(getattr(backbone, "output_size")), classes)  # noqa: B009 - contract attribute

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)[:, -1])


class ARSpectrumTask(TensorTask):
    """Sequence classification; ``splits`` maps train/val/test to ``(x, labels)`` tensors."""

    def __init__(self, spec: TaskSpec, context: TaskContext, splits: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                 classes: int, bayes: Mapping[str, float]) -> None:
        super().__init__(spec, context)
        self.splits = dict(splits)
        self.classes = classes
        self.bayes = dict(bayes)

    def problem(self, signature: Signature) -> object:
        if signature == CAUSAL_SEQ:
            x = self.splits["train"][0]
            return SeqProblem(input_size=int(x.shape[2]), max_len=int(x.shape[1]))
        raise IncompatibleModel(f"task {self.spec.name!r} does not accept signature {signature}")

    def adapter(self, backbone: nn.Module) -> nn.Module:
        return LastStepClassifier(backbone, self.classes)

    def count(self, batch: Batch) -> tuple[int, int]:
        x, _ = batch
        return int(x.shape[0]), int(x.shape[0] * x.shape[1])  # samples, steps

    def _logits(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        logits = module(x)
        if tuple(logits.shape) != (x.shape[0], self.classes):
            raise ValueError(f"task {self.spec.name!r}: model returned logits of shape {tuple(logits.shape)}, "
                             f"expected (batch, classes) = ({x.shape[0]}, {self.classes})")
        return logits

    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        x, labels = batch
        return F.cross_entropy(self._logits(module, x).float(), labels)

    def predict(self, module: nn.Module, batch: Batch) -> Any:
        return module(batch[0])

    # EVALUATION (the host is taking the loop over: see docs/plugins.md, "Evaluation")
    @torch.no_grad()
    def evaluate(self, module: nn.Module, split: str, device: torch.device) -> dict[str, float]:
        was_training = module.training
        module.eval()
        nll, correct, count = 0.0, 0, 0
        for x, labels in self.eval_batches(split, self.budget.eval_batch_size):
            logits = self._logits(module, x.to(device)).float()
            labels = labels.to(device)
            nll += float(F.cross_entropy(logits, labels, reduction="sum"))  # sums: the last batch weighs right
            correct += int((logits.argmax(1) == labels).sum())
            count += int(labels.numel())
        module.train(was_training)
        return {"accuracy": correct / count, "cross_entropy": nll / count}

    def reference(self) -> dict[str, float]:
        return dict(self.bayes)
