"""Layers of the attention encoder-decoder (Bahdanau, Cho & Bengio, "Neural Machine Translation
by Jointly Learning to Align and Translate", ICLR 2015).

* :class:`Encoder`: a bidirectional GRU; annotation h_j = [forward_j; backward_j], and the first
  decoder state s_0 = tanh(W_s backward_1) (the paper's initialisation).
* :class:`AdditiveAttention`: e_ij = v^T tanh(W s_{i-1} + U h_j), alpha_i = softmax_j(e_ij) over
  the real (unpadded) positions, context c_i = sum_j alpha_ij h_j.
* :class:`AttentionDecoder`: one step s_i = GRU([y_{i-1}; c_i], s_{i-1}); the readout is
  tanh(L [s_i; c_i; y_{i-1}]) (the paper's readout combines the same three terms, with a maxout
  instead of tanh).
"""

from __future__ import annotations

import torch
from torch import nn


class Encoder(nn.Module):
    """(B, L, E) inputs with lengths (B,) -> annotations (B, L, 2H), s_0 (B, H), mask (B, L)."""

    def __init__(self, embed: int, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.GRU(embed, hidden, batch_first=True, bidirectional=True)
        self.init_state = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if bool((lengths == x.shape[1]).all()):  # nothing padded (traffic windows): no packing needed
            annotations, last = self.rnn(x)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, last = self.rnn(packed)
            annotations, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
        # last[1]: the backward direction's final state, i.e. its state at position 1.
        return annotations, torch.tanh(self.init_state(last[1])), mask


class AdditiveAttention(nn.Module):
    """Bahdanau attention; ``keys`` = U h_j is computed once per source (:meth:`keys`)."""

    def __init__(self, state: int, annotation: int, width: int) -> None:
        super().__init__()
        self.query = nn.Linear(state, width, bias=False)
        self.key = nn.Linear(annotation, width)
        self.score = nn.Linear(width, 1, bias=False)

    def keys(self, annotations: torch.Tensor) -> torch.Tensor:
        return self.key(annotations)

    def forward(self, state: torch.Tensor, keys: torch.Tensor, annotations: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(context (B, 2H), weights (B, L)); padded positions get weight 0."""
        energy = self.score(torch.tanh(self.query(state)[:, None, :] + keys)).squeeze(-1)
        weights = torch.softmax(energy.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.bmm(weights[:, None, :], annotations).squeeze(1), weights


class Memory:
    """What the decoder attends over: annotations, their keys and the padding mask (B rows).
    ``take`` picks rows, e.g. to expand one source over the hypotheses of a beam."""

    def __init__(self, annotations: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> None:
        self.annotations, self.keys, self.mask = annotations, keys, mask

    def take(self, rows: torch.Tensor) -> Memory:
        return Memory(self.annotations[rows], self.keys[rows], self.mask[rows])


class AttentionDecoder(nn.Module):
    """One decoding step: (y_{i-1} embedded (B, E), s_{i-1} (B, H), memory) -> (readout (B, R), s_i, alpha_i)."""

    def __init__(self, embed: int, hidden: int, readout: int) -> None:
        super().__init__()
        self.attention = AdditiveAttention(hidden, 2 * hidden, hidden)
        self.cell = nn.GRUCell(embed + 2 * hidden, hidden)
        self.readout = nn.Linear(hidden + 2 * hidden + embed, readout)

    def memory(self, annotations: torch.Tensor, mask: torch.Tensor) -> Memory:
        return Memory(annotations, self.attention.keys(annotations), mask)

    def forward(self, y_prev: torch.Tensor, state: torch.Tensor,
                memory: Memory) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        context, weights = self.attention(state, memory.keys, memory.annotations, memory.mask)
        state = self.cell(torch.cat([y_prev, context], -1), state)
        return torch.tanh(self.readout(torch.cat([state, context, y_prev], -1))), state, weights
