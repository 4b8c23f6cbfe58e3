"""Decoder-only causal Transformer backbone with a key/value cache for streaming.

Vaswani et al., "Attention is all you need", NeurIPS 2017 (attention, sinusoidal
positions); the decoder-only language-model form of Radford et al. 2018 (GPT, learned
positions). Blocks are pre-LayerNorm (Xiong et al. 2020), which trains stably without the
long warm-up post-LN needs, so it fits the shared training schedule. Declares ``CAUSAL_SEQ``;
``step`` attends over cached keys/values, so streaming equals ``forward`` exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ, SeqProblem
from seqbench.specs import ModelSpec, Preset

Cache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values (B, heads, t, d_head)


@dataclass(frozen=True)
class TransformerConfig:
    d_model: int
    layers: int
    heads: int
    d_ff: int
    dropout: float
    positions: Literal["learned", "sinusoidal"] = "learned"


SIZES: dict[Preset, TransformerConfig] = {
    "smoke": TransformerConfig(d_model=32, layers=1, heads=2, d_ff=64, dropout=0.0),
    "quick": TransformerConfig(d_model=128, layers=2, heads=4, d_ff=256, dropout=0.1),
    "paper": TransformerConfig(d_model=512, layers=6, heads=8, d_ff=2048, dropout=0.1),  # Vaswani base
}


def sinusoidal(length: int, d_model: int) -> torch.Tensor:
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : d_model // 2]
    return table


class Block(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.heads = config.heads
        self.norm1 = nn.LayerNorm(config.d_model)
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.ff = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, config.d_model)
        )
        self.drop = nn.Dropout(config.dropout)
        self.p_attn = config.dropout

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, heads, T, D / heads)
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        q, k, v = (self._split(t) for t in self.qkv(self.norm1(x)).chunk(3, dim=-1))
        if past is not None:  # streaming: one new query attends over every cached position
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        attn = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.p_attn if self.training else 0.0, is_causal=past is None and q.shape[2] > 1
        )
        x = x + self.drop(self.proj(attn.transpose(1, 2).flatten(2)))
        x = x + self.drop(self.ff(self.norm2(x)))
        return x, (k, v)


class CausalTransformer(nn.Module):
    """(B, T, F) -> (B, T, d_model); position t attends to positions <= t only."""

    def __init__(self, problem: SeqProblem, config: TransformerConfig) -> None:
        super().__init__()
        self.max_len = problem.max_len
        self.inp = nn.Linear(problem.input_size, config.d_model)
        if config.positions == "learned":
            self.pos = nn.Parameter(torch.randn(problem.max_len, config.d_model) * 0.02)
        else:
            self.register_buffer("pos", sinusoidal(problem.max_len, config.d_model), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.output_size = config.d_model

    def _embed(self, x: torch.Tensor, start: int) -> torch.Tensor:
        end = start + x.shape[1]
        if end > self.max_len:
            raise ValueError(f"sequence of length {end} exceeds the transformer's max_len {self.max_len}")
        return self.drop(self.inp(x) + self.pos[start:end])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"transformer expects (batch, time, features), got shape {tuple(x.shape)}")
        h = self._embed(x, 0)
        for block in self.blocks:
            h, _ = block(h)
        return self.norm(h)

    def step(self, x_t: torch.Tensor, state: Cache | None = None) -> tuple[torch.Tensor, Cache]:
        """One position: ``x_t`` (B, F) and the key/value cache -> (B, d_model) and the new cache."""
        start = 0 if not state else state[0][0].shape[2]
        h = self._embed(x_t.unsqueeze(1), start)
        cache: Cache = []
        for i, block in enumerate(self.blocks):
            h, kv = block(h, state[i] if state else None)
            cache.append(kv)
        return self.norm(h).squeeze(1), cache


def build(problem: SeqProblem, preset: Preset) -> nn.Module:
    return CausalTransformer(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [ModelSpec("transformer", (CAUSAL_SEQ,), build, "decoder-only causal Transformer (pre-LN)",
                      "Vaswani et al. 2017; Radford et al. 2018", tags=("backbone", "attention"))]
