"""STGCN: Yu, Yin, Zhu, "Spatio-Temporal Graph Convolutional Networks: A Deep Learning
Framework for Traffic Forecasting", IJCAI 2018.

Fully convolutional: each ST-Conv block is a gated temporal convolution (GLU, with a
residual), a Chebyshev spatial graph convolution (order Ks - 1, ReLU) and a second gated
temporal convolution, then layer norm over nodes and channels. The output layer collapses
the remaining time steps with one temporal convolution; where the paper predicts one step
and iterates, a final linear layer emits every horizon at once, so all 12 come from one
pass as for the other models. The graph is symmetrised for the Laplacian (ChebNet needs a
symmetric operator).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import GRAPH, GraphProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.models.traffic_graph import check_adjacency, node_product, scaled_laplacian, to_sparse


@dataclass(frozen=True)
class STGCNConfig:
    channels: tuple[int, int, int]  # temporal, spatial, temporal channels of a block
    blocks: int
    kt: int  # temporal kernel size
    ks: int  # Chebyshev polynomial terms
    dropout: float


SIZES: dict[Preset, STGCNConfig] = {
    "smoke": STGCNConfig((8, 4, 8), blocks=2, kt=3, ks=2, dropout=0.0),
    "quick": STGCNConfig((32, 16, 32), blocks=2, kt=3, ks=3, dropout=0.1),
    "paper": STGCNConfig((64, 16, 64), blocks=2, kt=3, ks=3, dropout=0.3),
}


class GatedTemporalConv(nn.Module):
    """(B, C, T, N) -> (B, C', T - kt + 1, N): (P + residual) * sigmoid(Q)."""

    def __init__(self, c_in: int, c_out: int, kt: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * c_out, (kt, 1))
        self.residual = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.kt = kt

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, q = self.conv(x).chunk(2, dim=1)
        return (p + self.residual(x[:, :, self.kt - 1 :])) * torch.sigmoid(q)


class ChebGraphConv(nn.Module):
    """(B, C, T, N) -> (B, C', T, N): sum_k theta_k T_k(L~) X, Chebyshev recursion on sparse L~."""

    def __init__(self, c_in: int, c_out: int, ks: int) -> None:
        super().__init__()
        self.ks = ks
        self.linear = nn.Linear(ks * c_in, c_out)

    def forward(self, x: torch.Tensor, laplacian: torch.Tensor) -> torch.Tensor:
        z = x.permute(3, 0, 2, 1)  # (N, B, T, C): node-major for the sparse product
        terms = [z]
        if self.ks > 1:
            terms.append(node_product(laplacian, z))
        for _ in range(2, self.ks):
            terms.append(2 * node_product(laplacian, terms[-1]) - terms[-2])
        return self.linear(torch.cat(terms, -1)).permute(1, 3, 2, 0)


class STConvBlock(nn.Module):
    def __init__(self, c_in: int, channels: tuple[int, int, int], kt: int, ks: int, nodes: int, dropout: float):
        super().__init__()
        self.t1 = GatedTemporalConv(c_in, channels[0], kt)
        self.graph = ChebGraphConv(channels[0], channels[1], ks)
        self.t2 = GatedTemporalConv(channels[1], channels[2], kt)
        self.norm = nn.LayerNorm([nodes, channels[2]])
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, laplacian: torch.Tensor) -> torch.Tensor:
        x = self.t2(torch.relu(self.graph(self.t1(x), laplacian)))
        x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.dropout(x)


class STGCN(nn.Module):
    laplacian: torch.Tensor

    def __init__(self, problem: GraphProblem, config: STGCNConfig) -> None:
        super().__init__()
        adj = check_adjacency(problem.adjacency, problem.num_nodes)
        remaining = problem.in_steps - 2 * config.blocks * (config.kt - 1)
        if remaining < 1:
            needed = 2 * config.blocks * (config.kt - 1) + 1
            raise ValueError(f"STGCN needs at least {needed} input steps, got {problem.in_steps}")
        self.problem = problem
        self.register_buffer("laplacian", to_sparse(scaled_laplacian(adj)), persistent=False)
        blocks, c_in = [], problem.in_features
        for _ in range(config.blocks):
            blocks.append(STConvBlock(c_in, config.channels, config.kt, config.ks, problem.num_nodes, config.dropout))
            c_in = config.channels[2]
        self.blocks = nn.ModuleList(blocks)
        self.collapse = GatedTemporalConv(c_in, c_in, remaining)  # output layer: all time steps -> one
        self.norm = nn.LayerNorm([problem.num_nodes, c_in])
        out = problem.out_steps * problem.out_features
        self.head = nn.Sequential(nn.Linear(c_in, c_in), nn.ReLU(), nn.Linear(c_in, out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, n, f = x.shape
        p = self.problem
        if (n, f, t) != (p.num_nodes, p.in_features, p.in_steps):
            expected = f"(B, {p.in_steps}, {p.num_nodes}, {p.in_features})"
            raise ValueError(f"STGCN input {tuple(x.shape)}, expected {expected}")
        z = x.permute(0, 3, 1, 2)  # (B, F, T, N)
        for block in self.blocks:
            z = block(z, self.laplacian)
        z = self.norm(self.collapse(z)[:, :, 0].transpose(1, 2))  # (B, N, C)
        return self.head(z).view(b, n, p.out_steps, p.out_features).transpose(1, 2)


def build(problem: GraphProblem, preset: Preset) -> nn.Module:
    return STGCN(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [ModelSpec("stgcn", (GRAPH,), build, "gated temporal convs around Chebyshev graph convs",
                      "Yu et al. IJCAI 2018", tags=("graph", "convolutional", "traffic"))]
