"""Metrics of the long-memory tasks, each summed over the whole split and divided once at the end.

Bai, Kolter & Koltun 2018, Table 1: MSE for the adding problem, per-step cross-entropy for copy
memory (averaged over all ``T + 20`` outputs, as the paper's code computes it), accuracy for the
digit sequences. Each figure comes with its ratio to the task's trivial baseline, so that a
model that learned nothing reads 1.0 whatever ``T`` is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqbench.task import Batch
from seqbench_plugins.tasks.longmemory.data import ADDING_BASELINE_MSE, COPY_LENGTH


class AddingMSE:
    """``mse`` of the predicted sums and ``mse_ratio`` = mse / (1/6), the predict-1 baseline."""

    def __init__(self) -> None:
        self.squared = 0.0
        self.count = 0

    def update(self, output: torch.Tensor, batch: Batch) -> None:
        target = batch[1]
        self.squared += float(((output.float() - target.float()) ** 2).sum())
        self.count += int(target.numel())

    def compute(self) -> dict[str, float]:
        mse = self.squared / max(self.count, 1)
        return {"mse": mse, "mse_ratio": mse / ADDING_BASELINE_MSE}


class CopyLoss:
    """Copy memory, from logits (B, T + 20, classes) against targets (B, T + 20).

    ``loss``: cross-entropy per output over all ``T + 20`` steps (Table 1's figure);
    ``recall_loss``: cross-entropy per output over the 10 recall steps only (the part that
    needs memory, independent of ``T``); ``copy_accuracy``: fraction of recalled symbols
    right; ``memoryless_ratio``: loss / ``memoryless`` (10 ln 8 / (T + 20)).
    """

    def __init__(self, memoryless: float) -> None:
        self.memoryless = memoryless
        self.total = self.recall = 0.0
        self.steps = self.recalled = self.right = 0

    def update(self, output: torch.Tensor, batch: Batch) -> None:
        target = batch[1]
        nll = F.cross_entropy(output.float().transpose(1, 2), target, reduction="none")  # (B, T + 20)
        self.total += float(nll.sum())
        self.steps += int(nll.numel())
        self.recall += float(nll[:, -COPY_LENGTH:].sum())
        self.recalled += int(nll[:, -COPY_LENGTH:].numel())
        self.right += int((output[:, -COPY_LENGTH:].argmax(-1) == target[:, -COPY_LENGTH:]).sum())

    def compute(self) -> dict[str, float]:
        loss = self.total / max(self.steps, 1)
        return {"loss": loss, "recall_loss": self.recall / max(self.recalled, 1),
                "copy_accuracy": self.right / max(self.recalled, 1), "memoryless_ratio": loss / self.memoryless}


class DigitAccuracy:
    """``accuracy`` of the class read out at the last pixel, and mean ``cross_entropy``."""

    def __init__(self) -> None:
        self.right = 0
        self.nll = 0.0
        self.count = 0

    def update(self, output: torch.Tensor, batch: Batch) -> None:
        labels = batch[1]
        self.right += int((output.argmax(-1) == labels).sum())
        self.nll += float(F.cross_entropy(output.float(), labels, reduction="sum"))
        self.count += int(labels.numel())

    def compute(self) -> dict[str, float]:
        return {"accuracy": self.right / max(self.count, 1), "cross_entropy": self.nll / max(self.count, 1)}
