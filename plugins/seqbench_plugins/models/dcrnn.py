"""DCRNN: Li, Yu, Shahabi, Liu, "Diffusion Convolutional Recurrent Neural Network:
Data-Driven Traffic Forecasting", ICLR 2018.

Diffusion convolution = bidirectional random walks on the directed graph, K hops each way:
sum_k theta_k,f (D_O^-1 W)^k X + theta_k,b (D_I^-1 W^T)^k X. It replaces the matrix
products inside GRU gates (DCGRU); an encoder of stacked DCGRUs reads 12 steps, a decoder
started from its states emits 12, fed back its own previous output. Training feeds the
ground truth instead with probability tau / (tau + exp(i / tau)) at training step i
(scheduled sampling, inverse-sigmoid decay, :mod:`.scheduled_sampling`); the module counts its own steps.
Everything runs node-major, (N, B, C), so each graph product is one sparse matmul.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import GRAPH, GraphProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.models.scheduled_sampling import InverseSigmoid, feed_truth
from seqbench_plugins.models.traffic_graph import check_adjacency, node_product, random_walk, to_sparse


@dataclass(frozen=True)
class DCRNNConfig:
    hidden: int
    layers: int
    hops: int  # K, diffusion steps per direction
    decay: float  # tau of the scheduled-sampling decay, in training steps


SIZES: dict[Preset, DCRNNConfig] = {
    "smoke": DCRNNConfig(hidden=8, layers=1, hops=1, decay=2.0),
    "quick": DCRNNConfig(hidden=32, layers=2, hops=2, decay=30.0),  # truth fed half the time at step ~100 of 250
    "paper": DCRNNConfig(hidden=64, layers=2, hops=2, decay=2000.0),
}


class DiffusionConv(nn.Module):
    """(N, B, C) -> (N, B, out): a linear map of [X, P_f X, .., P_f^K X, P_b X, .., P_b^K X]."""

    def __init__(self, num_supports: int, hops: int, in_size: int, out_size: int, bias: float) -> None:
        super().__init__()
        self.hops = hops
        self.linear = nn.Linear(in_size * (1 + num_supports * hops), out_size)
        nn.init.constant_(self.linear.bias, bias)

    def forward(self, x: torch.Tensor, supports: list[torch.Tensor]) -> torch.Tensor:
        terms = [x]
        for support in supports:
            z = x
            for _ in range(self.hops):
                z = node_product(support, z)
                terms.append(z)
        return self.linear(torch.cat(terms, dim=-1))


class DCGRUCell(nn.Module):
    def __init__(self, hops: int, in_size: int, hidden: int) -> None:
        super().__init__()
        # gate bias 1: start by keeping the state, as the reference implementation does
        self.gates = DiffusionConv(2, hops, in_size + hidden, 2 * hidden, bias=1.0)
        self.candidate = DiffusionConv(2, hops, in_size + hidden, hidden, bias=0.0)

    def forward(self, x: torch.Tensor, h: torch.Tensor, supports: list[torch.Tensor]) -> torch.Tensor:
        r, u = torch.sigmoid(self.gates(torch.cat([x, h], -1), supports)).chunk(2, dim=-1)
        c = torch.tanh(self.candidate(torch.cat([x, r * h], -1), supports))
        return u * h + (1.0 - u) * c


class DCRNN(nn.Module):
    steps_seen: torch.Tensor
    support0: torch.Tensor
    support1: torch.Tensor

    def __init__(self, problem: GraphProblem, config: DCRNNConfig) -> None:
        super().__init__()
        adj = check_adjacency(problem.adjacency, problem.num_nodes)
        self.problem, self.config = problem, config
        for i, m in enumerate((random_walk(adj), random_walk(adj.T))):
            self.register_buffer(f"support{i}", to_sparse(m), persistent=False)
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.long))
        sizes = [problem.in_features] + [config.hidden] * (config.layers - 1)
        self.encoder = nn.ModuleList(DCGRUCell(config.hops, s, config.hidden) for s in sizes)
        self.decoder = nn.ModuleList(
            DCGRUCell(config.hops, s, config.hidden) for s in [problem.out_features, *sizes[1:]]
        )
        self.project = nn.Linear(config.hidden, problem.out_features)

    def _stack(self, cells: nn.ModuleList, x: torch.Tensor, states: list[torch.Tensor]) -> torch.Tensor:
        supports = [self.support0, self.support1]
        for i, cell in enumerate(cells):
            states[i] = cell(x, states[i], supports)
            x = states[i]
        return x

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        b, t, n, f = x.shape
        p = self.problem
        if (n, f, t) != (p.num_nodes, p.in_features, p.in_steps):
            expected = f"(B, {p.in_steps}, {p.num_nodes}, {p.in_features})"
            raise ValueError(f"DCRNN input {tuple(x.shape)}, expected {expected}")
        x = x.permute(1, 2, 0, 3)  # (T, N, B, F): node-major
        states = [x.new_zeros(n, b, self.config.hidden) for _ in self.encoder]
        for step in range(t):
            self._stack(self.encoder, x[step], states)
        truth = targets.permute(1, 2, 0, 3) if targets is not None and self.training else None
        if truth is not None:
            p_truth = InverseSigmoid(self.config.decay).truth_probability(int(self.steps_seen))
            self.steps_seen += 1
        step_in = x.new_zeros(n, b, p.out_features)  # GO symbol
        outputs = []
        for step in range(p.out_steps):
            out = self.project(self._stack(self.decoder, step_in, states))
            outputs.append(out)
            use_truth = truth is not None and feed_truth(p_truth)
            step_in = truth[step] if truth is not None and use_truth else out
        return torch.stack(outputs).permute(2, 0, 1, 3)  # (B, T_out, N, F_out)


def build(problem: GraphProblem, preset: Preset) -> nn.Module:
    return DCRNN(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [ModelSpec("dcrnn", (GRAPH,), build, "diffusion-convolutional GRU encoder-decoder, scheduled sampling",
                      "Li et al. ICLR 2018", tags=("graph", "recurrent", "traffic"))]
