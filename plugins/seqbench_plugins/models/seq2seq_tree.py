"""The tree adapter of the attention sequence-to-sequence model: the decoder emits the bracketed
linearisation of the tree (``label ( label label ( label ) ) EOS``, the layout of
:mod:`seqbench_plugins.tasks.trees.batch`), the sequence-to-sequence baseline that
Alvarez-Melis & Jaakkola (ICLR 2017) compare their doubly-recurrent decoder against.

Decoding is constrained by the bracket grammar of :class:`~seqbench_plugins.tasks.trees.lm.BracketState`
(no label after the node limit, no OPEN beyond max_depth, no child beyond max_children, EOS
only when every bracket is closed), so every output parses into a tree within the limits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from seqbench.signatures import TreeProblem
from seqbench_plugins.tasks.trees.batch import JointVocab
from seqbench_plugins.tasks.trees.lm import BracketState, allowed_mask


class BracketGrammar:
    """:class:`~seqbench_plugins.models.seq2seq_decode.Grammar` of well-formed bracketed trees."""

    def __init__(self, vocab: JointVocab, limits: TreeProblem) -> None:
        self.vocab, self.limits = vocab, limits

    def start(self) -> BracketState:
        return BracketState(self.limits)

    def advance(self, state: BracketState, token: int) -> BracketState:
        new = BracketState(self.limits)  # a copy: beam hypotheses share their parent's state
        new.stack, new.nodes = list(state.stack), state.nodes
        new.started, new.after_label, new.done = state.started, state.after_label, state.done
        new.push(token, self.vocab)
        return new

    def mask(self, states: Sequence[BracketState], vocab: int, device: torch.device) -> torch.Tensor:
        if vocab != self.vocab.size:
            raise ValueError(f"logits over {vocab} tokens, the joint vocabulary has {self.vocab.size}")
        return allowed_mask(list(states), self.vocab, device)

    def max_len(self) -> int:
        """Longest linearisation within the limits: each node costs at most label + OPEN + CLOSE."""
        return 3 * self.limits.max_nodes + 1


def target_columns(src: torch.Tensor, lm: torch.Tensor) -> torch.Tensor:
    """The target part of a bracketed-layout tensor (``lm_in`` / ``lm_out`` / ``lm_mask``):
    ``collate`` left-pads every source to the batch's longest, so the target starts at the
    same column, ``src.shape[1]`` (SEP in ``lm_in``; the first label in ``lm_out``)."""
    return lm[:, src.shape[1]:]
