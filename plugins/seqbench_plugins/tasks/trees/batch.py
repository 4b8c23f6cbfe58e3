"""Batch layout of the tree-recovery tasks (Alvarez-Melis & Jaakkola, ICLR 2017): each example is
encoded once (pre-order node arrays + the bracketed target in the joint vocabulary of the
sequence-model adapter) and a batch concatenates them, so neither the models nor the training
loop walk Python trees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seqbench.trees import CLOSE, OPEN, Golds, Tree, TreeBatch, parse_tokens, to_brackets


@dataclass(frozen=True)
class JointVocab:
    """Vocabulary of the conditional language model (CAUSAL_SEQ adapter): specials, source tokens
    (input ids >= 1; input id 0 is padding), then node labels."""

    input_vocab: int
    label_vocab: int
    PAD = 0
    SEP = 1
    EOS = 2
    OPEN = 3
    CLOSE = 4

    @property
    def first_label(self) -> int:
        return 5 + self.input_vocab - 1

    @property
    def size(self) -> int:
        return self.first_label + self.label_vocab

    def source(self, ids: np.ndarray) -> np.ndarray:
        return ids + 4

    def target(self, tree: Tree) -> list[int]:
        names = [str(self.first_label + i) for i in range(self.label_vocab)]
        return [self.OPEN if t == OPEN else self.CLOSE if t == CLOSE else int(t)
                for t in to_brackets(tree, names).split()] + [self.EOS]

    def decode(self, tokens: Sequence[int]) -> Tree:
        mapped: list[str | int] = [OPEN if t == self.OPEN else CLOSE if t == self.CLOSE else t
                                   for t in tokens if t != self.EOS]
        return parse_tokens(mapped, {self.first_label + i: i for i in range(self.label_vocab)})


@dataclass(frozen=True)
class Example:
    """One encoded (source string, tree) pair. Node arrays are in pre-order, indices local."""

    src: np.ndarray  # (L,) input ids >= 1
    tree: Tree
    labels: np.ndarray
    parent: np.ndarray  # -1 for the root
    prev: np.ndarray  # previous sibling, -1 for a first child
    depth: np.ndarray
    sib: np.ndarray
    has_children: np.ndarray
    has_next: np.ndarray
    target: np.ndarray  # joint-vocab linearised tree + EOS


def encode(src: Sequence[int], tree: Tree, vocab: JointVocab) -> Example:
    if len(src) == 0:
        raise ValueError("empty input string: a tree-recovery example needs at least one input token")
    nodes = list(tree.preorder())
    index = {id(n): i for i, (n, _, _, _) in enumerate(nodes)}
    prev = [-1] * len(nodes)
    for n, _, _, _ in nodes:
        for a, b in zip(n.children, n.children[1:], strict=False):
            prev[index[id(b)]] = index[id(a)]
    return Example(
        np.asarray(src, dtype=np.int64), tree,
        np.array([n.label for n, _, _, _ in nodes]),
        np.array([-1 if p is None else index[id(p)] for _, p, _, _ in nodes]),
        np.array(prev), np.array([d for _, _, d, _ in nodes]), np.array([s for _, _, _, s in nodes]),
        np.array([float(bool(n.children)) for n, _, _, _ in nodes], dtype=np.float32),
        np.array([float(p is not None and s < len(p.children) - 1) for _, p, _, s in nodes], dtype=np.float32),
        np.array(vocab.target(tree)),
    )


def collate(examples: Sequence[Example], vocab: JointVocab) -> TreeBatch:
    lens = np.array([len(e.src) for e in examples])
    src = np.zeros((len(examples), lens.max()), dtype=np.int64)
    for i, e in enumerate(examples):
        src[i, : len(e.src)] = e.src
    sizes = np.array([len(e.labels) for e in examples])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    def flat(name: str, shift: bool = False) -> torch.Tensor:
        arrays = [getattr(e, name) for e in examples]
        if shift:  # local node indices -> indices into the flat batch (-1 stays -1)
            arrays = [a + o * (a >= 0) for a, o in zip(arrays, offsets, strict=True)]
        parts = arrays
        return torch.from_numpy(np.concatenate(parts))

    # Sequence models: sources left-padded to the batch maximum so that SEP sits in one column.
    seqs = [np.concatenate([np.zeros(lens.max() - len(e.src), np.int64), vocab.source(e.src), [vocab.SEP], e.target])
            for e in examples]
    width = max(len(s) for s in seqs) - 1
    lm_in = np.zeros((len(examples), width), dtype=np.int64)
    lm_out = np.zeros_like(lm_in)
    lm_mask = np.zeros(lm_in.shape, dtype=np.float32)
    for i, s in enumerate(seqs):
        lm_in[i, : len(s) - 1], lm_out[i, : len(s) - 1] = s[:-1], s[1:]
        lm_mask[i, lens.max() : len(s) - 1] = 1.0
    return TreeBatch(
        torch.from_numpy(src), torch.from_numpy(lens), torch.from_numpy(np.repeat(np.arange(len(examples)), sizes)),
        flat("labels"), flat("parent", True), flat("prev", True), flat("depth"), flat("sib"),
        flat("has_children"), flat("has_next"),
        torch.from_numpy(lm_in), torch.from_numpy(lm_out), torch.from_numpy(lm_mask), Golds(e.tree for e in examples),
    )
