"""Anticipation metrics of RU-LSTM (Furnari & Farinella, ICCV 2019) on EPIC-KITCHENS.

Top-k accuracy of the action (verb-noun pair) at each anticipation time tau_a; verb and
noun scores are the action softmax marginalised over the actions sharing that verb / noun
(as the reference code does); mean top-5 recall averages, over the action classes present
in the split, the fraction of each class's samples whose label is in the top 5. Hits and
counts are accumulated over the whole split and divided once.
"""

from __future__ import annotations

import torch

from seqbench.specs import MetricSpec

HEADLINE_SECONDS = 1.0


def seconds_name(seconds: float) -> str:
    return f"{seconds:g}s"


def metric_specs(steps: int, step_seconds: float) -> tuple[MetricSpec, ...]:
    """Primary first: top-5 action accuracy at tau_a = 1 s, the paper's headline number."""
    at = seconds_name(HEADLINE_SECONDS)
    specs = [
        MetricSpec(f"top5@{at}", "max", "top-5 action accuracy 1 s before the action", "%"),
        MetricSpec(f"top1@{at}", "max", "top-1 action accuracy at 1 s", "%"),
        MetricSpec(f"mean_top5_recall@{at}", "max", "action top-5 recall averaged over classes, at 1 s", "%"),
        MetricSpec(f"verb_top5@{at}", "max", "top-5 verb accuracy at 1 s (marginalised action scores)", "%"),
        MetricSpec(f"noun_top5@{at}", "max", "top-5 noun accuracy at 1 s (marginalised action scores)", "%"),
    ]
    for s in range(steps):
        tau = (steps - s) * step_seconds
        if tau != HEADLINE_SECONDS:
            specs.append(MetricSpec(f"top5@{seconds_name(tau)}", "max", f"top-5 action accuracy at {tau:g} s", "%"))
    return tuple(specs)


def _hits(scores: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """(B, S, C) scores, (B,) target -> (B, S) bool: target among the top k."""
    top = scores.topk(min(k, scores.shape[-1]), -1).indices
    return (top == target[:, None, None]).any(-1)


class AnticipationMetrics:
    """Accumulates top-k hits per anticipation step over a whole split."""

    def __init__(self, verb_of: torch.Tensor, noun_of: torch.Tensor, steps: int, step_seconds: float) -> None:
        self.steps, self.step_seconds = steps, step_seconds
        actions = len(verb_of)
        self.to_verb = torch.zeros(actions, int(verb_of.max()) + 1).index_put_(
            (torch.arange(actions), verb_of.long()), torch.tensor(1.0))
        self.to_noun = torch.zeros(actions, int(noun_of.max()) + 1).index_put_(
            (torch.arange(actions), noun_of.long()), torch.tensor(1.0))
        self.verb_of, self.noun_of = verb_of.long(), noun_of.long()
        self.top5 = torch.zeros(steps, dtype=torch.float64)
        self.top1 = torch.zeros(steps, dtype=torch.float64)
        self.verb5 = torch.zeros(steps, dtype=torch.float64)
        self.noun5 = torch.zeros(steps, dtype=torch.float64)
        self.class_hits = torch.zeros(actions, dtype=torch.float64)
        self.class_count = torch.zeros(actions, dtype=torch.float64)
        self.count = 0

    def update(self, logits: torch.Tensor, action: torch.Tensor) -> None:
        """``logits`` (B, S, A) for the S anticipation steps; ``action`` (B,) labels."""
        b = len(action)
        expected = (b, self.steps, len(self.verb_of))
        if tuple(logits.shape) != expected:
            raise ValueError(f"anticipation logits of shape {tuple(logits.shape)}, expected {expected}")
        logits, action = logits.detach().float().cpu(), action.cpu().long()
        top5 = _hits(logits, action, 5)
        self.top5 += top5.sum(0)
        self.top1 += _hits(logits, action, 1).sum(0)
        probs = logits.softmax(-1)
        self.verb5 += _hits(probs @ self.to_verb, self.verb_of[action], 5).sum(0)
        self.noun5 += _hits(probs @ self.to_noun, self.noun_of[action], 5).sum(0)
        headline = self.steps - round(HEADLINE_SECONDS / self.step_seconds)
        self.class_hits.index_add_(0, action, top5[:, headline].double())
        self.class_count.index_add_(0, action, torch.ones(b, dtype=torch.float64))
        self.count += b

    def compute(self) -> dict[str, float]:
        n = max(self.count, 1)
        at = seconds_name(HEADLINE_SECONDS)
        i = self.steps - round(HEADLINE_SECONDS / self.step_seconds)
        present = self.class_count > 0
        recall = (self.class_hits[present] / self.class_count[present]).mean() if present.any() else torch.tensor(0.0)
        out = {
            f"top5@{at}": 100 * float(self.top5[i]) / n,
            f"top1@{at}": 100 * float(self.top1[i]) / n,
            f"mean_top5_recall@{at}": 100 * float(recall),
            f"verb_top5@{at}": 100 * float(self.verb5[i]) / n,
            f"noun_top5@{at}": 100 * float(self.noun5[i]) / n,
        }
        for s in range(self.steps):
            out[f"top5@{seconds_name((self.steps - s) * self.step_seconds)}"] = 100 * float(self.top5[s]) / n
        return out
