"""Structure Inference Machine (Deng, Vahdat, Hu & Mori, "Structure Inference Machines: Recurrent
Neural Networks for Analyzing Relations in Group Activity Recognition", CVPR 2016).

A fully connected graph over the people of a scene plus one scene node. Inference is an RNN
over T iterations: at each one, every directed edge's message is updated from the edge's input
features, its previous message and the previous predictions of both ends; a learned scalar gate
per edge (from the pair's features and its message) scales the message, which is how the model
learns which relations matter; every node's prediction is then recomputed from its own
(unary) features and its gated incoming messages. The outputs are the predictions at
iteration T; training scores every iteration (the paper's RNN loss at each timestep).

The paper's unary inputs are CNN scores of each person's box and of the whole image; here each
person's feature sequence is encoded by a shared GRU (:class:`PersonEncoder`, the same encoder
as the ``per-person`` baseline, so the comparison isolates the relations), and the scene node's
unary input is the pooled people. Padded people (``mask`` False) are excluded from every
message, every gate's normalisation and every pooling, so they never change a prediction.

Variants: ``sim`` (T = 3, gated), ``sim-t1`` (one iteration), ``sim-nogate`` (T = 3, gates
fixed at 1): the paper's iteration and gating ablations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import PERSONS, PersonsProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.tasks.group.task import masked_pool


@dataclass(frozen=True)
class SIMConfig:
    hidden: int  # per-person encoder state
    message: int  # message units per edge
    iterations: int = 3
    gated: bool = True


SIZES: dict[Preset, SIMConfig] = {
    "smoke": SIMConfig(hidden=16, message=16),
    "quick": SIMConfig(hidden=48, message=48),
    "paper": SIMConfig(hidden=128, message=128),
}

Outputs = tuple[torch.Tensor, torch.Tensor]  # person logits (B, P, A), scene logits (B, S)


class PersonEncoder(nn.Module):
    """One GRU shared by every person, over that person's own steps: (B, T, P, D) -> (B, P, H)."""

    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.GRU(features, hidden, batch_first=True)
        self.output_size = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, p, d = x.shape
        _, last = self.rnn(x.permute(0, 2, 1, 3).reshape(b * p, t, d))
        return last[-1].reshape(b, p, -1)


class EdgeType(nn.Module):
    """Message, gate and read-out weights of one kind of edge (person->person, person->scene,
    scene->person): the paper ties weights within a kind and unties them across kinds."""

    def __init__(self, sender: int, receiver: int, sender_classes: int, receiver_classes: int, message: int,
                 out_classes: int, gated: bool) -> None:
        super().__init__()
        # the pair's input features, through a two-layer network: the paper's factor functions
        # are multi-layer networks, and a relation (e.g. "faces the other one") is a product of
        # the two ends' features, which one linear layer cannot form
        self.inputs = nn.Sequential(nn.Linear(sender + receiver, message), nn.ReLU(), nn.Linear(message, message))
        self.recur = nn.Linear(message, message, bias=False)  # the previous message
        self.from_sender = nn.Linear(sender_classes, message, bias=False)  # previous predictions
        self.from_receiver = nn.Linear(receiver_classes, message, bias=False)
        self.gate = nn.Linear(2 * message, 1) if gated else None  # ungated: every gate is 1
        self.readout = nn.Linear(message, out_classes, bias=False)

    def step(self, pair: torch.Tensor, message: torch.Tensor, sender_c: torch.Tensor, receiver_c: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """New message and its gate (shape of the message without its last dim)."""
        new = F.relu(pair + self.recur(message) + self.from_sender(sender_c) + self.from_receiver(receiver_c))
        if self.gate is None:
            return new, torch.ones(new.shape[:-1], device=new.device, dtype=new.dtype)
        return new, torch.sigmoid(self.gate(torch.cat([pair, new], -1))).squeeze(-1)


class StructureInferenceMachine(nn.Module):
    def __init__(self, problem: PersonsProblem, config: SIMConfig) -> None:
        super().__init__()
        h, m, a, s = config.hidden, config.message, problem.person_classes, problem.scene_classes
        self.config = config
        self.encoder = PersonEncoder(problem.feature_size, h)
        self.scene_in = nn.Sequential(nn.Linear(2 * h, h), nn.ReLU())
        self.person_unary, self.scene_unary = nn.Linear(h, a), nn.Linear(h, s)
        # person -> person edges also see the difference of the two people's raw inputs (mean over steps)
        # (relative position, heading...): relations are about pairs, not single people.
        self.pp = EdgeType(h + problem.feature_size, h, a, a, m, a, config.gated)
        self.ps = EdgeType(h, h, a, s, m, s, config.gated)
        self.sp = EdgeType(h, h, s, a, m, a, config.gated)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Outputs:
        return self.every_iteration(x, mask)[-1]

    def every_iteration(self, x: torch.Tensor, mask: torch.Tensor) -> list[Outputs]:
        p = x.shape[2]
        h = self.encoder(x)  # (B, P, H)
        scene = self.scene_in(masked_pool(h, mask))  # (B, H)
        unary_p, unary_s = self.person_unary(h), self.scene_unary(scene)
        real = mask.to(h.dtype)
        # edge i -> j exists between two different real people: padding never sends or receives
        edges = real[:, :, None] * real[:, None, :] * (1 - torch.eye(p, device=x.device, dtype=h.dtype))
        mean_x = x.mean(1)  # per-person features averaged over the steps: less noisy than one step
        relative = mean_x[:, :, None] - mean_x[:, None, :]  # (B, P_sender, P_receiver, D)
        sender = torch.cat([h[:, :, None].expand(-1, -1, p, -1), relative], -1)
        pair_pp = self.pp.inputs(torch.cat([sender, h[:, None].expand(-1, p, -1, -1)], -1))  # (B, P, P, M)
        scene_rep = scene[:, None].expand(-1, p, -1)
        pair_ps = self.ps.inputs(torch.cat([h, scene_rep], -1))  # (B, P, M), person i -> scene
        pair_sp = self.sp.inputs(torch.cat([scene_rep, h], -1))  # (B, P, M), scene -> person j
        msg_pp, msg_ps, msg_sp = F.relu(pair_pp), F.relu(pair_ps), F.relu(pair_sp)  # initialised from the inputs
        logits_p, logits_s = unary_p, unary_s
        outputs: list[Outputs] = []
        for _ in range(self.config.iterations):
            c_p, c_s = logits_p.softmax(-1), logits_s.softmax(-1)
            c_s_rep = c_s[:, None].expand(-1, p, -1)
            msg_pp, gate_pp = self.pp.step(pair_pp, msg_pp, c_p[:, :, None].expand(-1, -1, p, -1),
                                           c_p[:, None].expand(-1, p, -1, -1))
            msg_ps, gate_ps = self.ps.step(pair_ps, msg_ps, c_p, c_s_rep)
            msg_sp, gate_sp = self.sp.step(pair_sp, msg_sp, c_s_rep, c_p)
            w_pp = gate_pp * edges
            incoming = (w_pp.unsqueeze(-1) * msg_pp).sum(1) / edges.sum(1).clamp_min(1.0).unsqueeze(-1)
            logits_p = unary_p + self.pp.readout(incoming) + self.sp.readout(gate_sp.unsqueeze(-1) * msg_sp)
            w_ps = gate_ps * real
            to_scene = (w_ps.unsqueeze(-1) * msg_ps).sum(1) / real.sum(1).clamp_min(1.0).unsqueeze(-1)
            logits_s = unary_s + self.ps.readout(to_scene)
            outputs.append((logits_p, logits_s))
        return outputs


def _spec(name: str, summary: str, iterations: int, gated: bool) -> ModelSpec:
    def build(problem: PersonsProblem, preset: Preset) -> nn.Module:
        base = SIZES[preset]
        return StructureInferenceMachine(problem, SIMConfig(base.hidden, base.message, iterations, gated))

    return ModelSpec(name, (PERSONS,), build, summary, "Deng et al. CVPR 2016", tags=("graph", "recurrent"))


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [
        _spec("sim", "Structure Inference Machine: gated message passing over people + scene, T = 3", 3, True),
        _spec("sim-t1", "Structure Inference Machine, one iteration (ablation)", 1, True),
        _spec("sim-nogate", "Structure Inference Machine without edge gates, T = 3 (ablation)", 3, False),
    ]
