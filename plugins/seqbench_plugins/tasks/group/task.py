"""The group-activity task: per-person feature sequences -> person actions and a scene label.

Batches are tuples ``(x, mask, person, scene)``: x (B, T, P, D) float, mask (B, P) bool
(True = a real person), person (B, P) int64 action (-1 = padding or unlabelled), scene (B,)
int64. ``PERSONS`` models are called ``module(x, mask)``; generic ``CAUSAL_SEQ`` backbones
through :class:`PerPersonAdapter`.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.signatures import CAUSAL_SEQ, PersonsProblem, SeqProblem, Signature
from seqbench.specs import TaskContext, TaskSpec
from seqbench.task import Batch, PairMetric, TensorTask
from seqbench_plugins.tasks.group.metrics import GroupMetrics

Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class GroupTask(TensorTask):
    def __init__(self, spec: TaskSpec, context: TaskContext, splits: dict[str, Split], person_classes: int,
                 scene_classes: int) -> None:
        super().__init__(spec, context)
        for name, (x, mask, person, scene) in splits.items():
            n, p = (x.shape[0], x.shape[2]) if x.dim() == 4 else (-1, -1)
            if n < 0 or mask.shape != (n, p) or person.shape != (n, p) or scene.shape != (n,):
                raise ValueError(f"{spec.name} {name} split: expected x (N, T, P, D), mask and person (N, P), "
                                 f"scene (N,); got {tuple(x.shape)}, {tuple(mask.shape)}, {tuple(person.shape)}, "
                                 f"{tuple(scene.shape)}")
            if n == 0:
                raise ValueError(f"{spec.name}: the {name} split has no scene")
        self.splits = dict(splits)
        _, steps, persons, features = splits["train"][0].shape
        self.persons_problem = PersonsProblem(features, persons, steps, person_classes, scene_classes)

    def problem(self, signature: Signature) -> object:
        p = self.persons_problem
        return SeqProblem(p.feature_size, p.steps) if signature == CAUSAL_SEQ else p

    def adapter(self, backbone: nn.Module) -> nn.Module:
        return PerPersonAdapter(backbone, self.persons_problem)

    def count(self, batch: Batch) -> tuple[int, int]:
        return len(batch[0]), int(batch[1].sum())  # units: real (unpadded) people

    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        x, mask, person, scene = batch
        # Iterative models (SIM) are trained on every iteration's predictions, as Deng et al.
        # train theirs; the outputs at the last iteration are what is evaluated.
        every = getattr(module, "every_iteration", None)
        outputs = every(x, mask) if callable(every) else [module(x, mask)]
        total = torch.zeros((), device=x.device)
        for person_logits, scene_logits in outputs:
            total = total + F.cross_entropy(scene_logits, scene) + _person_loss(person_logits, person, mask)
        return total / len(outputs)

    def predict(self, module: nn.Module, batch: Batch) -> Any:
        return module(batch[0], batch[1])

    def metric(self, split: str) -> PairMetric:
        # predict() gives (person logits, scene logits); the batch holds the labels and the mask
        # is already folded into the labels (-1 = padding), so the host's loop needs nothing else.
        return PairMetric(GroupMetrics(self.persons_problem.scene_classes),
                          lambda out, batch: (out[0].float(), out[1].float(), batch[2], batch[3]))


def _person_loss(logits: torch.Tensor, person: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    target = torch.where(mask, person, torch.full_like(person, -1))
    if not bool((target >= 0).any()):
        return logits.sum() * 0.0  # a batch without a labelled person still backpropagates
    return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=-1)


def masked_pool(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean and max of ``h`` (B, P, H) over the real people of ``mask`` (B, P) -> (B, 2H).
    Padded people never contribute (a scene without anyone pools to zeros)."""
    m = mask.unsqueeze(-1).to(h.dtype)
    mean = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
    peak = h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
    peak = torch.where(mask.any(1, keepdim=True), peak, torch.zeros_like(peak))
    return torch.cat([mean, peak], -1)


class PerPersonAdapter(nn.Module):
    """A shared causal backbone over each person's own feature sequence; its last state gives
    the person's action and, pooled (mean and max) over the real people, the scene's. No
    relation between people is modelled: the 'person classifier + pooling' of Deng et al."""

    def __init__(self, backbone: nn.Module, problem: PersonsProblem) -> None:
        super().__init__()
        self.backbone = backbone
        hidden = cast(int, backbone.output_size)
        self.person_head = nn.Linear(hidden, problem.person_classes)
        self.scene_head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(),
                                        nn.Linear(hidden, problem.scene_classes))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, p, d = x.shape
        h = self.backbone(x.permute(0, 2, 1, 3).reshape(b * p, t, d))[:, -1].reshape(b, p, -1)
        return self.person_head(h), self.scene_head(masked_pool(h, mask))
