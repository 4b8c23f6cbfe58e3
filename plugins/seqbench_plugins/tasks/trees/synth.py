"""Synthetic labelled trees for the tree-recovery experiment of Alvarez-Melis & Jaakkola,
"Tree-structured decoding with doubly-recurrent neural networks", ICLR 2017 (Section 5.1).

As in the paper, a node's label depends on its ancestors (parent and, with ``grandparent``,
grandparent) and on its previous sibling, while whether it has children or a further sibling
depends only on its own label and depth. The input string is the pre-order traversal of the
labels, which is ambiguous on purpose: the decoder has to infer the topology from label
statistics alone.

With ``root_label`` the trees have the shape of the authors' released data (dmelis/drnn,
``data/synth``): every tree hangs from a fixed ``ROOT`` node (an extra label, not in the input
string) that always has children, and the released metrics count it as a node like any other.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from seqbench.trees import Tree


@dataclass(frozen=True)
class SynthConfig:
    vocab: int  # number of node labels (26 letters in the paper)
    max_depth: int  # levels, root included
    max_children: int
    max_nodes: int  # trees larger than this are rejected (and counted) when sampled
    min_nodes: int = 3
    sharpness: float = 3.0  # scale of the label logits: higher = labels more predictable from context
    p_child: tuple[float, float] = (0.6, 1.0)  # per-label range of P(has children) at depth 0
    p_next: tuple[float, float] = (0.3, 0.8)  # per-label range of P(has a next sibling) at depth 0
    grandparent: bool = True  # labels also conditioned on the grandparent's label ("ancestors")
    root_label: bool = False  # a fixed ROOT root (label ``vocab``), as in the released data


class Grammar:
    """The random generative process, drawn once from a seed and shared by every split."""

    def __init__(self, config: SynthConfig, rng: np.random.Generator) -> None:
        if config.vocab < 2 or config.max_depth < 2 or config.max_children < 1:
            raise ValueError(f"synthetic trees need vocab >= 2, max_depth >= 2, max_children >= 1; got {config}")
        self.config = config
        v = config.vocab
        # Row ``v`` of each table stands for "none" (root / no grandparent / first child).
        parent, grand, sibling = (rng.normal(size=(v + 1, v)) for _ in range(3))
        if not config.grandparent:  # drawn anyway, so the other tables do not depend on the switch
            grand = np.zeros_like(grand)
        logits = config.sharpness * (grand[:, None, None, :] + parent[None, :, None, :] + sibling[None, None, :, :])
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        self.cdf = np.cumsum(probs / probs.sum(-1, keepdims=True), axis=-1)  # (g, p, s, label)
        self.p_child = rng.uniform(*config.p_child, size=v)
        self.p_next = rng.uniform(*config.p_next, size=v)

    def child_prob(self, label: int, depth: int) -> float:
        if label == self.config.vocab:  # the fixed ROOT always has children
            return 1.0
        # Linear decay to zero at the last allowed level keeps every tree within max_depth.
        return float(self.p_child[label] * max(0.0, 1.0 - depth / (self.config.max_depth - 1)))

    def next_prob(self, label: int, depth: int) -> float:
        return float(self.p_next[label] * (1.0 - 0.5 * depth / self.config.max_depth))

    def sample(self, rng: np.random.Generator) -> Tree | None:
        """One tree, or ``None`` when it grew beyond ``max_nodes`` (the caller counts rejections)."""
        c, v = self.config, self.config.vocab
        budget = [c.max_nodes]

        def grow(label: int, parent: int, depth: int) -> Tree | None:
            # Children are drawn left to right: label from (grandparent, parent, previous sibling),
            # then "another sibling?" from the child's own label and depth.
            if rng.random() >= self.child_prob(label, depth):
                return Tree(label)
            kids: list[tuple[int, bool]] = []
            prev = v
            while True:
                budget[0] -= 1
                if budget[0] < 0:
                    return None
                cdf = self.cdf[parent, label, prev]
                child = min(int(np.searchsorted(cdf, rng.random() * cdf[-1])), v - 1)
                more = len(kids) + 1 < c.max_children and rng.random() < self.next_prob(child, depth + 1)
                kids.append((child, more))
                prev = child
                if not more:
                    break
            grown = [grow(k, label, depth + 1) for k, _ in kids]
            return None if any(g is None for g in grown) else Tree(label, [g for g in grown if g is not None])

        budget[0] -= 1
        if c.root_label:  # ROOT's children are drawn in the root's context (row ``v``: none)
            return grow(v, v, 0)
        first = int(np.searchsorted(self.cdf[v, v, v], rng.random()))
        return grow(min(first, v - 1), v, 0)


def label_names(config: SynthConfig) -> list[str]:
    v = config.vocab
    names = list(string.ascii_lowercase[:v]) if v <= 26 else [f"l{i}" for i in range(v)]
    return [*names, "ROOT"] if config.root_label else names


def sample_split(grammar: Grammar, n: int, rng: np.random.Generator) -> tuple[list[Tree], int]:
    """``n`` trees within the size limits, and how many samples were rejected for size."""
    trees: list[Tree] = []
    rejected = 0
    while len(trees) < n:
        tree = grammar.sample(rng)
        if tree is None or tree.size() < grammar.config.min_nodes:
            rejected += 1
            if rejected > 100 * n + 1000:
                raise ValueError(f"synthetic trees: {rejected} of {rejected + len(trees)} samples fell outside "
                                 f"[{grammar.config.min_nodes}, {grammar.config.max_nodes}] nodes; widen the limits")
            continue
        trees.append(tree)
    return trees, rejected


def preorder_ids(tree: Tree, root_label: bool = False) -> list[int]:
    """The input string: pre-order labels as input ids (0 is padding, so label + 1), without
    the fixed ROOT when the trees have one (the released data's source strings lack it)."""
    return [n.label + 1 for n, _, _, _ in tree.preorder()][1 if root_label else 0 :]
