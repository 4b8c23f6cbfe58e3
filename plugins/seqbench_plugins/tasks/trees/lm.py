"""The CAUSAL_SEQ adapter of the tree-recovery tasks: a conditional language model over the
bracketed linearisation of the tree (the sequence-to-sequence baseline family that
Alvarez-Melis & Jaakkola, ICLR 2017, compare DRNNs against, here as one causal stream):

    [left padding] source tokens  SEP  label ( label label ( label ) )  EOS

Embeddings over the joint vocabulary, the backbone, a linear head; trained by next-token loss on
the target part only. Decoding (greedy by default, or beam search) is constrained to
well-formed brackets within the size limits, so every output parses into a tree.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.signatures import TreeProblem
from seqbench.trees import Tree, TreeBatch
from seqbench_plugins.tasks.trees.batch import JointVocab


class BracketState:
    """Grammar state of one partial linearisation: which next tokens keep it a valid tree."""

    __slots__ = ("after_label", "done", "limits", "nodes", "stack", "started")

    def __init__(self, limits: TreeProblem) -> None:
        self.limits = limits
        self.stack: list[int] = []  # children so far of each open node
        self.nodes = 0
        self.started = self.after_label = self.done = False

    def allowed(self) -> tuple[bool, bool, bool, bool]:
        """(label, OPEN, CLOSE, EOS) allowed next."""
        if self.done:
            return False, False, False, False
        if not self.started:
            return True, False, False, False
        room = self.nodes < self.limits.max_nodes
        if not self.after_label and self.stack and self.stack[-1] == 0:  # just opened: a child must follow
            return True, False, False, False
        label = room and bool(self.stack) and self.stack[-1] < self.limits.max_children
        opened = room and self.after_label and len(self.stack) + 1 < self.limits.max_depth
        return label, opened, bool(self.stack), not self.stack

    def push(self, token: int, vocab: JointVocab) -> None:
        if token == vocab.EOS:
            self.done = True
        elif token == vocab.OPEN:
            self.stack.append(0)
        elif token == vocab.CLOSE:
            self.stack.pop()
        else:
            self.nodes += 1
            if self.stack:
                self.stack[-1] += 1
        self.started = True
        self.after_label = token >= vocab.first_label


def allowed_mask(states: list[BracketState], vocab: JointVocab, device: torch.device) -> torch.Tensor:
    flags = torch.tensor([s.allowed() for s in states], dtype=torch.bool, device=device).reshape(len(states), 4)
    mask = torch.zeros(len(states), vocab.size, dtype=torch.bool, device=device)
    mask[:, vocab.first_label :] = flags[:, :1]
    mask[:, vocab.OPEN], mask[:, vocab.CLOSE], mask[:, vocab.EOS] = flags[:, 1], flags[:, 2], flags[:, 3]
    mask[:, vocab.PAD] = ~flags.any(1)  # finished sequences emit padding
    return mask


class TreeLM(nn.Module):
    """A TREE model built from any causal backbone (see the TREE contract in ``trees.py``)."""

    def __init__(self, backbone: nn.Module, vocab: JointVocab, limits: TreeProblem, embed: int) -> None:
        super().__init__()
        self.vocab, self.limits = vocab, limits
        self.embed = nn.Embedding(vocab.size, embed)
        self.backbone = backbone
        self.head = nn.Linear(cast(int, backbone.output_size), vocab.size)
        self.beam = 1  # beam width used by ``decode``; 1 = greedy

    def forward(self, batch: TreeBatch) -> torch.Tensor:
        logits = self.head(self.backbone(self.embed(batch.lm_in)))
        nll = F.cross_entropy(logits.transpose(1, 2), batch.lm_out, reduction="none")
        return (nll * batch.lm_mask).sum(1)

    def prefix(self, src: torch.Tensor, src_len: torch.Tensor) -> torch.Tensor:
        """Left-padded source + SEP, exactly as ``collate`` lays out training sequences."""
        width = src.shape[1]
        shift = (width - src_len)[:, None]
        cols = torch.arange(width, device=src.device)[None, :]
        moved = src.gather(1, (cols - shift).clamp(min=0))
        body = torch.where(cols >= shift, moved + 4, torch.zeros_like(moved))  # JointVocab.source
        return torch.cat([body, torch.full_like(body[:, :1], self.vocab.SEP)], 1)

    def decode(self, src: torch.Tensor, src_len: torch.Tensor) -> list[Tree]:
        if self.beam > 1:
            prefix = self.prefix(src, src_len)
            return [self._beam(prefix[i : i + 1]) for i in range(len(prefix))]
        return self._greedy(self.prefix(src, src_len))

    def _greedy(self, prefix: torch.Tensor) -> list[Tree]:
        states = [BracketState(self.limits) for _ in range(len(prefix))]
        out: list[list[int]] = [[] for _ in states]
        step = getattr(self.backbone, "step", None)
        tokens = prefix
        if step is not None:  # streaming: one pass over the prefix, then one step per token
            state = None
            for t in range(prefix.shape[1]):
                y, state = step(self.embed(prefix[:, t]), state)
        for _ in range(3 * self.limits.max_nodes + 1):
            if step is None:  # no streaming state: recompute the causal pass over the whole prefix
                y = self.backbone(self.embed(tokens))[:, -1]
            logits = self.head(y).masked_fill(~allowed_mask(states, self.vocab, prefix.device), float("-inf"))
            nxt = logits.argmax(-1)
            for s, o, tok in zip(states, out, nxt.tolist(), strict=True):
                if not s.done:
                    s.push(tok, self.vocab)
                    o.append(tok)
            if all(s.done for s in states):
                break
            if step is None:
                tokens = torch.cat([tokens, nxt[:, None]], 1)
            else:
                y, state = step(self.embed(nxt), state)
        return [self.vocab.decode(o) for o in out]

    def _beam(self, prefix: torch.Tensor) -> Tree:
        """Beam search for one example; beams are rescored by a full causal pass each step."""
        width = self.beam
        beams: list[tuple[float, list[int], BracketState]] = [(0.0, [], BracketState(self.limits))]
        finished: list[tuple[float, list[int]]] = []
        for _ in range(3 * self.limits.max_nodes + 1):
            tokens = torch.cat([prefix.expand(len(beams), -1),
                                torch.tensor([b[1] for b in beams], dtype=torch.long, device=prefix.device)
                                .reshape(len(beams), -1)], 1)
            logp = F.log_softmax(self.head(self.backbone(self.embed(tokens))[:, -1]), -1)
            logp = logp.masked_fill(~allowed_mask([b[2] for b in beams], self.vocab, prefix.device), float("-inf"))
            top, idx = logp.topk(min(width, logp.shape[1]), -1)
            cands = sorted(((beams[i][0] + s, i, t) for i in range(len(beams))
                            for s, t in zip(top[i].tolist(), idx[i].tolist(), strict=True) if s > float("-inf")),
                           reverse=True)
            old, beams = beams, []
            for score, i, tok in cands[:width]:
                if tok == self.vocab.EOS:
                    finished.append((score, [*old[i][1], tok]))
                    continue
                state = BracketState(self.limits)
                for t in [*old[i][1], tok]:
                    state.push(t, self.vocab)
                beams.append((score, [*old[i][1], tok], state))
            # Scores only fall as tokens are added: stop once no live beam can beat the best finished one.
            if not beams or (finished and max(f[0] for f in finished) >= beams[0][0]):
                break
        if not finished:
            raise RuntimeError("beam search ended without a complete tree (the size limits should prevent this)")
        best = max(finished, key=lambda f: f[0])
        return self.vocab.decode(best[1])
