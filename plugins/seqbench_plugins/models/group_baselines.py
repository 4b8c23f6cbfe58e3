"""Group-activity baselines (Deng et al., "Structure Inference Machines", CVPR 2016, Section 5):
the majority class, and an independent per-person classifier with pooling over people.

``per-person`` is the Structure Inference Machine with its relations removed: the same shared
GRU encoder of each person's sequence (:class:`~seqbench_plugins.models.sim.PersonEncoder`,
same size), a person head, and a scene head on the mean and max of the real people's states.
It is trained like every model (gradient steps), so it is not a ``baseline=True`` spec.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import PERSONS, PersonsProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.models.sim import SIZES, PersonEncoder
from seqbench_plugins.tasks.group.task import masked_pool


class MajorityClass(nn.Module):
    """Predicts the most frequent training person action and scene label, whatever the input."""

    person_prior: torch.Tensor
    scene_prior: torch.Tensor

    def __init__(self, problem: PersonsProblem) -> None:
        super().__init__()
        self.register_buffer("person_prior", torch.zeros(problem.person_classes))
        self.register_buffer("scene_prior", torch.zeros(problem.scene_classes))

    def fit(self, batches: Iterable[tuple[torch.Tensor, ...]]) -> None:
        person = torch.zeros_like(self.person_prior, dtype=torch.float64)
        scene = torch.zeros_like(self.scene_prior, dtype=torch.float64)
        for _, mask, person_labels, scene_labels in batches:
            known = person_labels[mask & (person_labels >= 0)]
            person += torch.bincount(known, minlength=len(person)).to(person)
            scene += torch.bincount(scene_labels, minlength=len(scene)).to(scene)
        # log-frequencies (+1 smoothing): argmax is the majority class, ties go to the lower index
        self.person_prior.copy_((person + 1).log().float())
        self.scene_prior.copy_((scene + 1).log().float())

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, p, _ = x.shape
        return self.person_prior.expand(b, p, -1), self.scene_prior.expand(b, -1)


class PerPerson(nn.Module):
    """Each person classified from its own sequence alone; the scene from pooled people."""

    def __init__(self, problem: PersonsProblem, hidden: int) -> None:
        super().__init__()
        self.encoder = PersonEncoder(problem.feature_size, hidden)
        self.person_head = nn.Linear(hidden, problem.person_classes)
        self.scene_head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(),
                                        nn.Linear(hidden, problem.scene_classes))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.person_head(h), self.scene_head(masked_pool(h, mask))


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    def majority(problem: PersonsProblem, preset: Preset) -> nn.Module:
        return MajorityClass(problem)

    def per_person(problem: PersonsProblem, preset: Preset) -> nn.Module:
        return PerPerson(problem, SIZES[preset].hidden)

    return [
        ModelSpec("majority", (PERSONS,), majority, "most frequent training person action and scene label",
                  "Deng et al. CVPR 2016 (baseline)", baseline=True, tags=("baseline", "group-activity")),
        ModelSpec("per-person", (PERSONS,), per_person,
                  "independent per-person GRU classifier, scene from pooled people (no relations)",
                  "Deng et al. CVPR 2016 (person classifier + pooling baseline)", tags=("baseline", "group-activity")),
    ]
