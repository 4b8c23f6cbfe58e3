"""Doubly-recurrent neural network (DRNN) tree decoder with an LSTM string encoder.

Alvarez-Melis & Jaakkola, "Tree-structured decoding with doubly-recurrent neural networks",
ICLR 2017. Each node i has an ancestral state (LSTM cell over the parent's state and label) and
a fraternal state (LSTM cell over the previous sibling's state and label), combined into a
predictive state h_pred = tanh(U_f h_f + U_a h_a). From it: P(has children) = sigmoid(u_a h_pred),
P(has next sibling) = sigmoid(u_f h_pred), and the label from softmax(W h_pred + alpha v_a +
phi v_f), where alpha/phi are the topological decisions (gold in training, i.e. teacher forcing
on the true topology; the model's own >0.5 decisions at test time). The encoder's final LSTM
state initialises the root's ancestral state, as in the paper's encoder-decoder experiments.

Training is vectorised over the batch: ancestral states level by level (depth), fraternal states
rank by rank (sibling index); decoding generates every tree of the batch level by level.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import TREE, TreeProblem
from seqbench.specs import ModelSpec, Preset
from seqbench.trees import Tree, TreeBatch


@dataclass(frozen=True)
class DRNNConfig:
    embed: int
    hidden: int


SIZES: dict[Preset, DRNNConfig] = {
    "smoke": DRNNConfig(embed=16, hidden=32),
    "quick": DRNNConfig(embed=64, hidden=128),
    "paper": DRNNConfig(embed=128, hidden=256),
}

State = tuple[torch.Tensor, torch.Tensor]


class DRNN(nn.Module):
    """TREE model: ``forward(batch) -> (B,) NLL`` and ``decode(src, src_len) -> list[Tree]``."""

    def __init__(self, problem: TreeProblem, config: DRNNConfig) -> None:
        super().__init__()
        self.problem = problem
        self.start = problem.label_vocab  # extra label id: "no parent / no previous sibling"
        self.src_embed = nn.Embedding(problem.input_vocab, config.embed, padding_idx=0)
        self.encoder = nn.LSTM(config.embed, config.hidden, batch_first=True)
        self.label_embed = nn.Embedding(problem.label_vocab + 1, config.embed)
        self.ancestral = nn.LSTMCell(config.embed, config.hidden)
        self.fraternal = nn.LSTMCell(config.embed, config.hidden)
        self.u_ancestral = nn.Linear(config.hidden, config.hidden, bias=False)
        self.u_fraternal = nn.Linear(config.hidden, config.hidden)
        self.topology = nn.Linear(config.hidden, 2)  # logits of (has children, has next sibling)
        self.label_head = nn.Linear(config.hidden, problem.label_vocab)
        self.v_ancestral = nn.Parameter(torch.zeros(problem.label_vocab))
        self.v_fraternal = nn.Parameter(torch.zeros(problem.label_vocab))

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> State:
        packed = nn.utils.rnn.pack_padded_sequence(self.src_embed(src), src_len.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, (h, c) = self.encoder(packed)
        return h[-1], c[-1]

    def _start(self, n: int, device: torch.device) -> torch.Tensor:
        return self.label_embed(torch.full((n,), self.start, dtype=torch.long, device=device))

    def predictive(self, ancestral: torch.Tensor, fraternal: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.u_ancestral(ancestral) + self.u_fraternal(fraternal))

    def label_logits(self, pred: torch.Tensor, alpha: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        # The topology is fed back into the label prediction (paper, Eq. 6).
        return self.label_head(pred) + alpha[:, None] * self.v_ancestral + phi[:, None] * self.v_fraternal

    def _recur(self, cell: nn.LSTMCell, level: torch.Tensor, link: torch.Tensor, labels: torch.Tensor,
               first: State) -> torch.Tensor:
        """States of all N nodes, one level at a time; ``link`` is the parent (or previous sibling),
        whose state and label feed the node; nodes with link -1 start from ``first``."""
        n, device = labels.numel(), labels.device
        h = torch.zeros(n, cell.hidden_size, device=device)
        c = torch.zeros_like(h)
        for value in range(int(level.max()) + 1):
            idx = (level == value).nonzero().squeeze(1)
            src = link[idx]
            roots = src < 0
            inp = torch.where(roots[:, None], self._start(len(idx), device), self.label_embed(labels[src.clamp(min=0)]))
            state = (torch.where(roots[:, None], first[0][idx], h[src.clamp(min=0)]),
                     torch.where(roots[:, None], first[1][idx], c[src.clamp(min=0)]))
            hn, cn = cell(inp, state)
            h, c = h.index_copy(0, idx, hn), c.index_copy(0, idx, cn)
        return h

    def forward(self, batch: TreeBatch) -> torch.Tensor:
        enc_h, enc_c = self.encode(batch.src, batch.src_len)
        zeros = torch.zeros(batch.labels.numel(), self.fraternal.hidden_size, device=batch.labels.device)
        h_a = self._recur(self.ancestral, batch.depth, batch.parent, batch.labels,
                          (enc_h[batch.tree_of], enc_c[batch.tree_of]))
        h_f = self._recur(self.fraternal, batch.sib, batch.prev, batch.labels, (zeros, zeros))
        pred = self.predictive(h_a, h_f)
        topo = self.topology(pred)
        loss = F.binary_cross_entropy_with_logits(topo[:, 0], batch.has_children, reduction="none")
        # A root never has siblings (decoding forces that), so its sibling decision is not trained.
        sibling = F.binary_cross_entropy_with_logits(topo[:, 1], batch.has_next, reduction="none")
        loss = loss + sibling * (batch.depth > 0)
        logits = self.label_logits(pred, batch.has_children, batch.has_next)
        loss = loss + F.cross_entropy(logits, batch.labels, reduction="none")
        return torch.zeros(len(batch.src_len), device=loss.device).index_add(0, batch.tree_of, loss)

    @torch.no_grad()
    def decode(self, src: torch.Tensor, src_len: torch.Tensor) -> list[Tree]:
        p, device = self.problem, src.device
        enc = self.encode(src, src_len)
        # A "slot" is a parent whose children are being generated; it holds their ancestral state.
        slot_a = self.ancestral(self._start(len(src), device), enc)
        slot_tree = torch.arange(len(src), device=device)
        slot_node = [-1] * len(src)
        labels: list[int] = []
        parents: list[int] = []
        counts = [0] * len(src)
        for depth in range(p.max_depth):
            if not len(slot_tree):
                break
            n = len(slot_tree)
            frat = self.fraternal(self._start(n, device), (torch.zeros_like(slot_a[0]), torch.zeros_like(slot_a[0])))
            active = torch.arange(n, device=device)
            expand: list[tuple[int, int, int]] = []  # (node id, slot index, label)
            for rank in range(p.max_children):
                pred = self.predictive(slot_a[0][active], frat[0])
                topo = torch.sigmoid(self.topology(pred)) > 0.5
                alpha = topo[:, 0] & (depth + 1 < p.max_depth)
                phi = topo[:, 1] & (depth > 0) & (rank + 1 < p.max_children)
                label = self.label_logits(pred, alpha.float(), phi.float()).argmax(-1)
                keep = []
                decided = zip(active.tolist(), label.tolist(), alpha.tolist(), phi.tolist(), strict=True)
                for j, (slot, lab, a, f) in enumerate(decided):
                    tree = int(slot_tree[slot])
                    if counts[tree] >= p.max_nodes:  # size limit reached: this tree stops growing
                        continue
                    counts[tree] += 1
                    labels.append(lab)
                    parents.append(slot_node[slot])
                    if a:
                        expand.append((len(labels) - 1, slot, lab))
                    if f:
                        keep.append(j)
                if not keep:
                    break
                kept = torch.tensor(keep, dtype=torch.long, device=device)
                frat = self.fraternal(self.label_embed(label[kept]), (frat[0][kept], frat[1][kept]))
                active = active[kept]
            if not expand:
                break
            ids, slots, labs = (torch.tensor(v, dtype=torch.long, device=device) for v in zip(*expand, strict=True))
            slot_a = self.ancestral(self.label_embed(labs), (slot_a[0][slots], slot_a[1][slots]))
            slot_tree, slot_node = slot_tree[slots], ids.tolist()
        return _assemble(labels, parents, len(src))


def _assemble(labels: list[int], parents: list[int], n_trees: int) -> list[Tree]:
    """Trees from nodes listed parents-first; roots (parent -1) come in batch order."""
    children: list[list[Tree]] = [[] for _ in labels]
    built: list[Tree | None] = [None] * len(labels)
    for i in reversed(range(len(labels))):
        built[i] = Tree(labels[i], children[i][::-1])
        if parents[i] >= 0:
            children[parents[i]].append(built[i])  # type: ignore[arg-type]
    roots = [t for t, p in zip(built, parents, strict=True) if p < 0]
    assert len(roots) == n_trees
    return roots  # type: ignore[return-value]


def build(problem: TreeProblem, preset: Preset) -> nn.Module:
    if not isinstance(problem, TreeProblem):
        raise TypeError(f"drnn needs a TreeProblem, got {type(problem).__name__}")
    return DRNN(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [ModelSpec("drnn", (TREE,), build, "Doubly-recurrent tree decoder (ancestral + fraternal LSTM cells), "
                      "LSTM string encoder", "Alvarez-Melis & Jaakkola, ICLR 2017", tags=("tree", "specialised"))]
