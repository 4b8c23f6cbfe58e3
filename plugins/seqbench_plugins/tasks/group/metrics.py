"""Group-activity metrics (Deng et al., "Structure Inference Machines", CVPR 2016, Table 1):
scene (collective activity) accuracy, mean per-class scene accuracy, person action accuracy.

Counts are accumulated over the whole split and divided once at the end. Person accuracy
counts real people with a known action only: padding and unlabelled people (label -1, e.g.
the Collective Activity dataset's "NA") are excluded, never scored as errors.
"""

from __future__ import annotations

import torch

from seqbench.specs import MetricSpec

METRICS = (
    MetricSpec("scene_acc", "max", "collective activity accuracy over scenes"),
    MetricSpec("scene_mca", "max", "mean per-class collective activity accuracy (classes present in the split)"),
    MetricSpec("person_acc", "max", "person action accuracy over labelled people"),
)


class GroupMetrics:
    """Accumulates scene and person hits over a whole split."""

    def __init__(self, scene_classes: int) -> None:
        self.scene_hits = torch.zeros(scene_classes, dtype=torch.float64)
        self.scene_count = torch.zeros(scene_classes, dtype=torch.float64)
        self.person_hits = 0.0
        self.person_count = 0.0

    def update(self, person_logits: torch.Tensor, scene_logits: torch.Tensor, person: torch.Tensor,
               scene: torch.Tensor) -> None:
        """``person_logits`` (B, P, A), ``scene_logits`` (B, S); labels (B, P) (-1 = excluded), (B,)."""
        if person_logits.shape[:2] != person.shape or scene_logits.shape[:1] != scene.shape:
            raise ValueError(f"person logits {tuple(person_logits.shape)} / labels {tuple(person.shape)}, "
                             f"scene logits {tuple(scene_logits.shape)} / labels {tuple(scene.shape)}: "
                             "expected (B, P, A) / (B, P) and (B, S) / (B,)")
        scene, person = scene.cpu(), person.cpu()
        hit = (scene_logits.detach().cpu().argmax(-1) == scene).double()
        self.scene_hits.index_add_(0, scene, hit)
        self.scene_count.index_add_(0, scene, torch.ones_like(hit))
        valid = person >= 0
        right = (person_logits.detach().cpu().argmax(-1) == person) & valid
        self.person_hits += float(right.sum())
        self.person_count += float(valid.sum())

    def compute(self) -> dict[str, float]:
        present = self.scene_count > 0
        per_class = self.scene_hits[present] / self.scene_count[present]
        return {
            "scene_acc": float(self.scene_hits.sum() / self.scene_count.sum().clamp_min(1)),
            "scene_mca": float(per_class.mean()) if bool(present.any()) else 0.0,
            "person_acc": self.person_hits / max(self.person_count, 1.0),
        }
