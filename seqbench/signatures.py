"""Signatures: the contracts between models and tasks.

A model declares the signatures it implements, a task the signatures it accepts; a pair
runs when they share one. Signatures are value objects compared by equality (never by
string matching), and each comes with the *problem* dataclass a model builder receives,
which carries every size the model needs to know.

Forward contracts (B = batch, T = time):

* ``CAUSAL_SEQ``: ``module(x: (B, T, F) float) -> (B, T, H)``, output at t depends on
  inputs <= t only; the module exposes ``output_size: int`` (= H). A module with a
  streaming state may also implement ``step(x_t: (B, F), state) -> (y_t: (B, H), state)``.
  Every task accepts it through its own adapter, so a new backbone meets every task.
* ``TOKENS``: ``module(tokens: (B, T) long) -> logits (B, T, V)`` (next-token).
* ``FRAMES``: ``module(frames: (B, T_in, C, H, W)) -> (B, T_out, C, H, W)``.
* ``GRAPH``: ``module(x: (B, T_in, N, F_in)) -> (B, T_out, N, F_out)`` on the graph of
  the problem; training may pass ``targets=`` for teacher forcing / scheduled sampling.
* ``MULTIMODAL``: ``module(streams) -> action logits (B, S, A)``, one row per anticipation
  step (see :class:`MultimodalProblem`); ``streams`` maps every modality to (B, T, D_m)
  and :data:`PREVIOUS_ACTION` to the last observed action (B,) long (-1: none).
* ``PERSONS``: ``module(x: (B, T, P, D), mask: (B, P) bool) -> (person (B, P, A), scene (B, S))``
  logits; padded people (``mask`` False) must never change an output. An iterative model may
  also implement ``every_iteration(x, mask) -> list[(person, scene)]``: training then averages
  the loss over the iterations (as Deng et al. 2016 train the Structure Inference Machine).
* ``TREE``: string (token ids) -> labelled tree; the task defines the exact call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Signature:
    """A named contract; two signatures are compatible only when equal."""

    name: str
    description: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.name


CAUSAL_SEQ = Signature("causal-seq", "(B,T,F) -> (B,T,H), causal")
TOKENS = Signature("tokens", "(B,T) token ids -> (B,T,V) next-token logits")
FRAMES = Signature("frames", "(B,Tin,C,H,W) -> (B,Tout,C,H,W)")
GRAPH = Signature("graph-signals", "(B,Tin,N,Fin) -> (B,Tout,N,Fout) on a graph")
MULTIMODAL = Signature("multimodal", "dict of (B,T,D_m) feature streams -> action logits")
PERSONS = Signature("persons", "(B,T,P,D) per-person features -> person and scene logits")
TREE = Signature("tree", "token string -> labelled ordered tree")

ALL = (CAUSAL_SEQ, TOKENS, FRAMES, GRAPH, MULTIMODAL, PERSONS, TREE)


@dataclass(frozen=True)
class SeqProblem:
    """Problem for ``CAUSAL_SEQ`` backbones: feature size in, longest sequence seen, and how far
    back the task needs to see.

    ``memory`` is the number of inputs (the current one included) that some output must see for
    the task to be solvable: the whole sequence for the adding problem, ``T + 11`` for copy
    memory (Bai et al. 2018). A backbone with a bounded context (a TCN's receptive field) may
    grow to cover it; 0 means the task states no such span.
    """

    input_size: int
    max_len: int
    memory: int = 0


@dataclass(frozen=True)
class TokenProblem:
    """Problem for ``TOKENS`` models."""

    vocab_size: int
    max_len: int


@dataclass(frozen=True)
class FrameProblem:
    """Problem for ``FRAMES`` models: frame geometry and the in/out horizons."""

    channels: int
    height: int
    width: int
    in_frames: int
    out_frames: int

    def check_input(self, frames: torch.Tensor) -> None:
        """Raise a clear error unless ``frames`` is (B, in_frames, channels, height, width)."""
        if tuple(frames.shape[1:]) != (self.in_frames, self.channels, self.height, self.width):
            raise ValueError(f"expected frames (B, {self.in_frames}, {self.channels}, {self.height}, {self.width}), "
                             f"got {tuple(frames.shape)}")


@dataclass(frozen=True, eq=False)
class GraphProblem:
    """Problem for ``GRAPH`` models. ``adjacency`` is the directed weighted (N, N) matrix,
    ``adjacency[i, j]`` the weight of the edge i -> j. ``steps_per_day`` is the number of
    readings in a day (288 for 5-minute readings), for models that use the time of day."""

    num_nodes: int
    in_features: int
    out_features: int
    in_steps: int
    out_steps: int
    adjacency: np.ndarray
    steps_per_day: int = 288


PREVIOUS_ACTION = "previous-action"  # key of the last observed action in MULTIMODAL streams


@dataclass(frozen=True)
class MultimodalProblem:
    """Problem for ``MULTIMODAL`` models (action anticipation, Furnari & Farinella 2019).

    Streams hold ``observed_steps`` feature vectors per modality, one every ``step_seconds``,
    the last one ``step_seconds`` before the action starts. The model returns logits for
    the last ``anticipation_steps`` of them: output ``s`` may use inputs up to step
    ``observed_steps - anticipation_steps + s`` only, and anticipates the action
    ``(anticipation_steps - s) * step_seconds`` seconds before it starts. ``train_steps``
    is the task's optimizer-step budget (the same for every model), for models whose
    training has stages (RU-LSTM's sequence-completion pre-training). A model may define
    ``training_logits(streams) -> tuple of (B, S, A)``: the heads the task trains on (mean
    cross-entropy) instead of ``forward``'s output; evaluation always calls ``forward``.
    """

    modalities: tuple[tuple[str, int], ...]
    num_actions: int
    observed_steps: int
    anticipation_steps: int = 8
    step_seconds: float = 0.25
    train_steps: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.anticipation_steps <= self.observed_steps:
            raise ValueError(f"anticipation_steps must be in 1..observed_steps={self.observed_steps}, "
                             f"got {self.anticipation_steps}")


@dataclass(frozen=True)
class PersonsProblem:
    """Problem for ``PERSONS`` models: features per person and step, people per scene (padded
    to ``max_persons``), steps, and the number of person-action and scene classes."""

    feature_size: int
    max_persons: int
    steps: int
    person_classes: int
    scene_classes: int


@dataclass(frozen=True)
class TreeProblem:
    """Problem for ``TREE`` models: input vocabulary, node-label vocabulary and size limits."""

    input_vocab: int
    label_vocab: int
    max_input_len: int
    max_nodes: int
    max_depth: int
    max_children: int
