"""Tree-recovery metrics of Alvarez-Melis & Jaakkola, "Tree-structured decoding with
doubly-recurrent neural networks", ICLR 2017: node and edge retrieval, plus exact match,
tree size error and the Zhang-Shasha tree edit distance (``zss``, unit costs).

Node retrieval compares the multisets of labels of the predicted and gold trees; edge retrieval
the multisets of (parent label -> child label) pairs. Two averages over a split:

* ``node_f1`` / ``edge_f1`` (and their precision / recall): micro, matches summed over trees and
  divided by the predicted / gold totals.
* ``node_macro_f1`` / ``edge_macro_f1``: as the authors' released evaluation (dmelis/drnn,
  ``utils/evaluation.lua``, which prints "Macro-F1"): precision and recall per tree (an empty
  predicted bag has precision 1, an empty gold bag recall 1, as there), each averaged over the
  trees, then F1 of the two averages (not the mean of per-tree F1s).
* ``edge_parent_macro_f1``: the same average over the released code's *edge* definition, which
  keeps only the parent's label ("p ->" once per child; the child's label is commented out in
  ``Tree:edges_table_lexical_order``), so it is more lenient than ``edge_macro_f1``.

torchmetrics has none of these (its F1 scores class labels, not bags of tree nodes or edges).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import zss

from seqbench.trees import Tree

K = TypeVar("K")


def node_bag(tree: Tree) -> Counter[int]:
    return Counter(n.label for n, _, _, _ in tree.preorder())


def edge_bag(tree: Tree) -> Counter[tuple[int, int]]:
    return Counter((p.label, n.label) for n, p, _, _ in tree.preorder() if p is not None)


def parent_bag(tree: Tree) -> Counter[int]:
    """Edges as the released DRNN code matches them: the parent's label, once per child."""
    return Counter(p.label for _, p, _, _ in tree.preorder() if p is not None)


def per_tree(pred: Counter[K], gold: Counter[K]) -> tuple[float, float]:
    """Precision and recall of one tree's bag, with the released code's empty-bag conventions."""
    matched = sum((pred & gold).values())
    n_pred, n_gold = sum(pred.values()), sum(gold.values())
    return (matched / n_pred if n_pred else 1.0), (matched / n_gold if n_gold else 1.0)


def edit_distance(a: Tree, b: Tree) -> int:
    """Ordered tree edit distance (insert, delete, relabel: cost 1 each)."""
    return int(zss.simple_distance(a, b, lambda t: list(t.children), lambda t: t.label,
                                   lambda x, y: 0 if x == y else 1))


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


@dataclass
class TreeScores:
    """Accumulates the metrics over a split, batch by batch."""

    matched: Counter[str] = field(default_factory=Counter)  # node / edge matches
    predicted: Counter[str] = field(default_factory=Counter)
    gold: Counter[str] = field(default_factory=Counter)
    trees: int = 0
    exact: int = 0
    size_error: float = 0.0
    ted: float = 0.0
    macro: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # per-tree P / R, summed

    def update(self, predictions: Iterable[Tree], golds: Iterable[Tree]) -> None:
        for pred, gold in zip(predictions, golds, strict=True):
            if not isinstance(pred, Tree):
                raise TypeError(f"a TREE model must return seqbench_plugins Tree objects, got {type(pred).__name__}")
            for kind, pb, gb in (("node", node_bag(pred), node_bag(gold)), ("edge", edge_bag(pred), edge_bag(gold))):
                self.matched[kind] += sum((pb & gb).values())  # type: ignore[operator]
                self.predicted[kind] += sum(pb.values())
                self.gold[kind] += sum(gb.values())
            per = {"node": per_tree(node_bag(pred), node_bag(gold)), "edge": per_tree(edge_bag(pred), edge_bag(gold)),
                   "edge_parent": per_tree(parent_bag(pred), parent_bag(gold))}
            for kind, (p, r) in per.items():
                self.macro[f"{kind}_p"] += p
                self.macro[f"{kind}_r"] += r
            self.trees += 1
            self.exact += int(pred == gold)
            self.size_error += abs(pred.size() - gold.size())
            self.ted += edit_distance(pred, gold)

    def compute(self) -> dict[str, float]:
        if self.trees == 0:
            raise ValueError("no trees were scored: the split is empty")
        out: dict[str, float] = {}
        for kind in ("node", "edge"):
            p = self.matched[kind] / self.predicted[kind] if self.predicted[kind] else 0.0
            r = self.matched[kind] / self.gold[kind] if self.gold[kind] else 0.0
            out.update({f"{kind}_precision": p, f"{kind}_recall": r, f"{kind}_f1": _f1(p, r)})
        for kind in ("node", "edge", "edge_parent"):
            out[f"{kind}_macro_f1"] = _f1(self.macro[f"{kind}_p"] / self.trees, self.macro[f"{kind}_r"] / self.trees)
        out["exact_match"] = self.exact / self.trees
        out["size_error"] = self.size_error / self.trees
        out["tree_edit_distance"] = self.ted / self.trees
        return out
