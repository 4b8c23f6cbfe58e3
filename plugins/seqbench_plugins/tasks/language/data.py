"""Synthetic language from a hidden Markov model with known parameters, and its exact oracle.

Rabiner, "A tutorial on hidden Markov models and selected applications in speech
recognition", Proc. IEEE 1989 (the scaled forward algorithm, section V.A).

Because the generating HMM is known, the best achievable perplexity on the test set is
computed exactly with the forward algorithm, so every model's gap to the optimum is known.
Also here: cutting a token stream into fixed-length language-modelling windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

IGNORE = -100  # target value of padding positions (torch's cross_entropy ignore_index)


@dataclass(frozen=True)
class HMMLanguage:
    """Initial (S,), transition (S, S) and emission (S, V) probabilities; rows sum to one."""

    initial: np.ndarray
    transition: np.ndarray
    emission: np.ndarray

    @property
    def vocab_size(self) -> int:
        return int(self.emission.shape[1])


def make_hmm(states: int, vocab: int, seed: int, stickiness: float = 0.5, sparsity: float = 0.15) -> HMMLanguage:
    """A random HMM whose state is only partly revealed by each symbol.

    Sparse Dirichlet transitions (plus a self-loop weight ``stickiness``) give the language
    structure over tens of steps; sparse, overlapping emissions (each symbol is emitted by
    several states) mean the state must be inferred from history, which is what separates
    models with long memory from n-grams, while staying learnable.
    """
    rng = np.random.default_rng(seed)
    transition = rng.dirichlet(np.full(states, sparsity), size=states)
    transition = (1 - stickiness) * transition + stickiness * np.eye(states)
    emission = rng.dirichlet(np.full(vocab, sparsity), size=states)
    initial = np.full(states, 1.0 / states)
    return HMMLanguage(initial, transition, emission)


def sample_hmm(hmm: HMMLanguage, sequences: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """``sequences`` independent sequences of ``length`` symbols, int64 (N, length)."""

    def draw(prob: np.ndarray) -> np.ndarray:  # one categorical draw per row of ``prob``
        cumulative = np.cumsum(prob, axis=1)
        u = rng.random((prob.shape[0], 1)) * cumulative[:, -1:]
        return np.minimum((u > cumulative).sum(axis=1), prob.shape[1] - 1)

    out = np.empty((sequences, length), dtype=np.int64)
    state = draw(np.broadcast_to(hmm.initial, (sequences, len(hmm.initial))))
    for t in range(length):
        out[:, t] = draw(hmm.emission[state])
        state = draw(hmm.transition[state])
    return out


def forward_log_likelihood(hmm: HMMLanguage, tokens: np.ndarray) -> np.ndarray:
    """log p(x_1..x_t) for every prefix, (N, T) float64, by the scaled forward algorithm.

    The forward variable is renormalised at each step and the log scale factors summed
    (Rabiner 1989, eq. 91-93), so long sequences never underflow.
    """
    n, length = tokens.shape
    alpha = np.broadcast_to(hmm.initial, (n, len(hmm.initial)))
    out = np.empty((n, length))
    total = np.zeros(n)
    for t in range(length):
        alpha = alpha * hmm.emission[:, tokens[:, t]].T
        scale = alpha.sum(axis=1)
        total += np.log(scale)
        out[:, t] = total
        alpha = (alpha / scale[:, None]) @ hmm.transition
    return out


def oracle_nll(hmm: HMMLanguage, tokens: np.ndarray) -> tuple[float, int]:
    """(sum of -log p(x_t | x_<t) over t >= 2, number of predicted tokens) under the true HMM.

    The first token of each sequence is the model's input, never a target, so it is
    conditioned on rather than scored: log p(x_2..x_T | x_1) = log p(x_1..x_T) - log p(x_1).
    """
    prefix = forward_log_likelihood(hmm, tokens)
    return float(-(prefix[:, -1] - prefix[:, 0]).sum()), int(tokens.shape[0] * (tokens.shape[1] - 1))


def sequences_to_pairs(sequences: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Independent sequences (N, T+1) -> (inputs (N, T), next-token targets (N, T))."""
    return sequences[:, :-1].contiguous(), sequences[:, 1:].contiguous()


def stream_to_windows(stream: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a 1-D token stream into (inputs, targets) windows of ``length`` predictions.

    Consecutive windows share one boundary token, so every token after the first is
    predicted exactly once; the last, shorter window is padded (input 0, target IGNORE)
    rather than dropped, so the whole split is scored.
    """
    if stream.dim() != 1 or len(stream) < 2:
        raise ValueError(f"expected a 1-D token stream of at least 2 tokens, got shape {tuple(stream.shape)}")
    predicted = len(stream) - 1
    windows = -(-predicted // length)
    inputs = torch.zeros(windows * length, dtype=torch.long)
    targets = torch.full((windows * length,), IGNORE, dtype=torch.long)
    inputs[:predicted] = stream[:-1]
    targets[:predicted] = stream[1:]
    return inputs.view(windows, length), targets.view(windows, length)
