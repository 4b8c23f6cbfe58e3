"""Decoding a token sequence from a step function: batched greedy search and beam search.

Beam search keeps the ``width`` best partial hypotheses by summed log-probability; a hypothesis
that emits EOS leaves the beam (its slot is freed for the others) and the search ends once
``width`` hypotheses have finished or ``max_len`` steps have passed. The finished ones are then
ranked by length-normalised score, log P / length**alpha (alpha = 0: raw log-probability,
which favours short outputs; Wu et al. 2016, "Google's NMT system", discuss the choice). With
width 1 this is exactly greedy search. An optional grammar masks the tokens that would make
the output ill-formed, so every finished hypothesis parses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

# step(previous tokens (K,), decoder state (K, H)) -> (log-probabilities (K, V), next state (K, H))
Step = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class Grammar(Protocol):
    """Which tokens may come next; states are immutable from the search's point of view."""

    def start(self) -> Any: ...

    def advance(self, state: Any, token: int) -> Any: ...

    def mask(self, states: Sequence[Any], vocab: int, device: torch.device) -> torch.Tensor:
        """(K, vocab) bool, True where the token is allowed."""
        ...


@dataclass(frozen=True)
class Hypothesis:
    tokens: tuple[int, ...]  # emitted tokens, EOS included once finished
    score: float  # summed log-probability
    grammar: Any = None

    def normalised(self, alpha: float) -> float:
        return self.score / max(1, len(self.tokens)) ** alpha


def _masked(logp: torch.Tensor, grammar: Grammar | None, states: Sequence[Any]) -> torch.Tensor:
    if grammar is None:
        return logp
    return logp.masked_fill(~grammar.mask(states, logp.shape[1], logp.device), float("-inf"))


def greedy(step: Step, state: torch.Tensor, bos: int, eos: int, max_len: int,
           grammar: Grammar | None = None) -> list[list[int]]:
    """The most likely next token at every step, for a batch of B sources at once (state (B, H))."""
    n = state.shape[0]
    tokens = torch.full((n,), bos, dtype=torch.long, device=state.device)
    out: list[list[int]] = [[] for _ in range(n)]
    states = [grammar.start() for _ in range(n)] if grammar is not None else [None] * n
    done = [False] * n
    for _ in range(max_len):
        logp, state = step(tokens, state)
        tokens = _masked(logp, grammar, states).argmax(-1)
        for i, tok in enumerate(tokens.tolist()):
            if not done[i]:
                out[i].append(tok)
                done[i] = tok == eos
                if grammar is not None and not done[i]:
                    states[i] = grammar.advance(states[i], tok)
        if all(done):
            break
    return out


def beam_search(step: Step, state: torch.Tensor, bos: int, eos: int, width: int, max_len: int,
                alpha: float = 1.0, grammar: Grammar | None = None) -> list[int]:
    """The best hypothesis for ONE source (state (1, H)); ``step`` must accept K rows of it."""
    if width < 1:
        raise ValueError(f"beam width must be >= 1, got {width}")
    live = [Hypothesis((), 0.0, grammar.start() if grammar is not None else None)]
    finished: list[Hypothesis] = []
    tokens = torch.full((1,), bos, dtype=torch.long, device=state.device)
    for _ in range(max_len):
        logp, state = step(tokens, state)
        logp = _masked(logp, grammar, [h.grammar for h in live])
        total = logp + torch.tensor([h.score for h in live], device=logp.device)[:, None]
        top, index = total.flatten().topk(min(width, total.numel()))
        kept: list[Hypothesis] = []
        rows: list[int] = []
        for score, i in zip(top.tolist(), index.tolist(), strict=True):
            if score == float("-inf"):
                break
            row, tok = divmod(i, logp.shape[1])
            h = live[row]
            if tok == eos:
                finished.append(Hypothesis((*h.tokens, tok), score))
                continue
            g = grammar.advance(h.grammar, tok) if grammar is not None else None
            kept.append(Hypothesis((*h.tokens, tok), score, g))
            rows.append(row)
        if len(finished) >= width or not kept:
            break
        live = kept
        state = state[torch.tensor(rows, device=state.device)]
        tokens = torch.tensor([h.tokens[-1] for h in kept], dtype=torch.long, device=state.device)
    # Nothing finished within max_len (only possible without a grammar that forces an end): the
    # live hypotheses stand in, truncated.
    pool = finished or live
    return list(max(pool, key=lambda h: h.normalised(alpha)).tokens)
