"""The anticipation task: multi-modal feature windows -> the next action at every tau_a.

Protocol of RU-LSTM (Furnari & Farinella, ICCV 2019): one feature vector per modality
every 0.25 s, 14 steps ending 0.25 s before the action starts (6 encoding + 8 anticipation
steps); a prediction after each of the last 8 steps, i.e. at tau_a = 2, 1.75, ..., 0.25 s;
cross-entropy on all 8 during training, as the reference code trains.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.signatures import CAUSAL_SEQ, PREVIOUS_ACTION, MultimodalProblem, SeqProblem, Signature
from seqbench.specs import TaskContext, TaskSpec
from seqbench.task import Batch, PairMetric, Task
from seqbench_plugins.tasks.anticipation.metrics import AnticipationMetrics

OBSERVED_STEPS, ANTICIPATION_STEPS, STEP_SECONDS = 14, 8, 0.25


@dataclass(frozen=True)
class Split:
    """Examples of one split. ``features[m]`` is a timeline (steps, D) read through ``ends``
    (each window is the 14 steps before ``ends[i]``), or, with ``ends=None``, windows (S, 14, D)."""

    features: dict[str, torch.Tensor]
    action: torch.Tensor  # (S,) long
    previous: torch.Tensor  # (S,) long, -1: no action observed yet
    ends: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.action)

    def batch(self, index: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        if self.ends is None:
            streams = {m: f[index] for m, f in self.features.items()}
        else:
            steps = self.ends[index, None] - OBSERVED_STEPS + torch.arange(OBSERVED_STEPS)
            streams = {m: f[steps] for m, f in self.features.items()}
        streams[PREVIOUS_ACTION] = self.previous[index]
        return streams, self.action[index]


@dataclass(frozen=True)
class AnticipationData:
    splits: dict[str, Split]
    dims: tuple[tuple[str, int], ...]  # modality -> feature size, in a fixed order
    verb_of: torch.Tensor  # (A,) verb of each action
    noun_of: torch.Tensor  # (A,) noun of each action


class AnticipationTask(Task):
    def __init__(self, spec: TaskSpec, context: TaskContext, data: AnticipationData) -> None:
        super().__init__(spec, context)
        self.data = data
        for name, split in data.splits.items():
            for m, d in data.dims:
                shape = split.features[m].shape
                if shape[-1] != d:
                    raise ValueError(f"{spec.name} {name} split: modality {m!r} has {shape[-1]} features, expected {d}")
            if len(split) == 0:
                raise ValueError(f"{spec.name} {name} split has no example")

    @property
    def num_actions(self) -> int:
        return len(self.data.verb_of)

    def problem(self, signature: Signature) -> object:
        if signature == CAUSAL_SEQ:
            return SeqProblem(sum(d for _, d in self.data.dims), OBSERVED_STEPS)
        return MultimodalProblem(self.data.dims, self.num_actions, OBSERVED_STEPS, ANTICIPATION_STEPS,
                                 STEP_SECONDS, self.budget.steps)

    def adapter(self, backbone: nn.Module) -> nn.Module:
        return ConcatAdapter(backbone, tuple(m for m, _ in self.data.dims), self.num_actions)

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[Batch]:
        split = self.data.splits["train"]
        while True:
            order = torch.randperm(len(split), generator=generator)
            for start in range(0, max(1, len(split) - batch_size + 1), batch_size):
                yield split.batch(order[start : start + batch_size])

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        data = self.data.splits[split]
        for start in range(0, len(data), batch_size):  # last batch kept
            yield data.batch(torch.arange(start, min(start + batch_size, len(data))))

    def count(self, batch: Batch) -> tuple[int, int]:
        return len(batch[1]), len(batch[1]) * ANTICIPATION_STEPS  # units: anticipations (one per tau_a)

    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        streams, action = batch
        heads = getattr(module, "training_logits", None)
        outputs = heads(streams) if callable(heads) else (module(streams),)
        target = action.repeat_interleave(ANTICIPATION_STEPS)
        losses = [F.cross_entropy(out.reshape(-1, out.shape[-1]), target) for out in outputs]
        return torch.stack(losses).mean()

    def predict(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        return module(batch[0])

    def metric(self, split: str) -> PairMetric:
        # The accumulators live on the CPU (per-class counts indexed by the labels), so the
        # host's loop hands them CPU copies of the logits and labels.
        metrics = AnticipationMetrics(self.data.verb_of, self.data.noun_of, ANTICIPATION_STEPS, STEP_SECONDS)
        return PairMetric(metrics, lambda logits, batch: (logits.float().cpu(), batch[1].cpu()))


class ConcatAdapter(nn.Module):
    """A causal backbone on the modalities concatenated per step, a linear action head on
    its outputs at the anticipation steps (each sees only what was observed by then)."""

    def __init__(self, backbone: nn.Module, modalities: tuple[str, ...], num_actions: int) -> None:
        super().__init__()
        self.backbone, self.modalities = backbone, modalities
        self.head = nn.Linear(cast(int, backbone.output_size), num_actions)

    def forward(self, streams: dict[str, torch.Tensor]) -> torch.Tensor:
        x = torch.cat([streams[m] for m in self.modalities], -1)
        return self.head(self.backbone(x)[:, -ANTICIPATION_STEPS:])
