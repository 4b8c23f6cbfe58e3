"""DRNN against Alvarez-Melis & Jaakkola (ICLR 2017) and their released code (dmelis/drnn): the
paper preset's synthetic data, the per-tree ("macro") retrieval metrics, teacher forcing of the
topology in the label layer, and decoding limits."""

from __future__ import annotations

import math
import statistics
from collections import Counter

import numpy as np
import pytest
import torch
from seqbench_plugins.models.drnn import DRNN, SIZES
from seqbench_plugins.tasks.trees import BUDGETS, METRICS
from seqbench_plugins.tasks.trees.batch import JointVocab, collate, encode
from seqbench_plugins.tasks.trees.metrics import TreeScores, parent_bag, per_tree
from seqbench_plugins.tasks.trees.sources import SYNTH, load_synthetic
from seqbench_plugins.tasks.trees.synth import Grammar, SynthConfig

from seqbench.signatures import TreeProblem
from seqbench.trees import Tree

T = Tree


def test_paper_preset_has_the_released_data_shape() -> None:
    data = load_synthetic(SYNTH["paper"], seed=0)
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 4000, "val": 500, "test": 500}
    assert data.problem.label_vocab == 27 and data.problem.input_vocab == 27 and data.names[-1] == "ROOT"
    train = [e.tree for e in data.splits["train"]]
    # released train: 31540 chars of source = 3.94 labels per tree, +1 for ROOT; test 4.64
    assert 4.6 <= statistics.mean(t.size() for t in train) <= 5.3
    assert all(t.label == 26 and t.children for t in train)  # a fixed ROOT with at least one child
    assert 0.65 <= sum(t.depth() == 2 for t in train) / len(train) <= 0.8  # released test: 0.746
    assert 2.4 <= statistics.mean(len(t.children) for t in train) <= 3.0  # released test: 2.62
    # labels nearly uniform, as released (first labels of 98 test trees: 4.34 bits; log2 26 = 4.70)
    first = Counter(int(e.src[0]) for e in data.splits["train"])
    assert -sum(c / 4000 * math.log2(c / 4000) for c in first.values()) > 4.2
    ex = data.splits["test"][0]
    assert ex.src.tolist() == [n.label + 1 for n, _, _, _ in ex.tree.preorder()][1:]  # ROOT is not in the input
    assert max(int(e.src.max()) for e in data.splits["train"]) <= 26


def test_grandparent_switch_only_changes_the_label_context() -> None:
    base = SynthConfig(vocab=5, max_depth=4, max_children=3, max_nodes=20)
    on = Grammar(base, np.random.default_rng(0))
    off = Grammar(SynthConfig(**{**base.__dict__, "grandparent": False}), np.random.default_rng(0))
    assert not np.allclose(on.cdf[0], on.cdf[1])  # the grandparent (first axis) matters...
    assert np.allclose(off.cdf[0], off.cdf[1]) and np.allclose(off.cdf[0], off.cdf[5])  # ...or not at all
    assert np.array_equal(on.p_child, off.p_child) and np.array_equal(on.p_next, off.p_next)


def test_per_tree_scores_match_the_released_prediction_summary() -> None:
    # dmelis/drnn predictions/synth/test/...pred_summary, N1: gold "ROOT J A J G H" (parents 0 1 1 3 3 1),
    # prediction "ROOT V"; released columns node 0.1667 / 0.5, edge 0.2 / 1 (their "prec" divides by gold).
    root, j, a, g, h, v = 26, 9, 0, 6, 7, 21
    gold = T(root, [T(j), T(a, [T(j), T(g)]), T(h)])
    pred = T(root, [T(v)])
    from seqbench_plugins.tasks.trees.metrics import node_bag

    assert per_tree(node_bag(pred), node_bag(gold)) == pytest.approx((1 / 2, 1 / 6))
    assert per_tree(parent_bag(pred), parent_bag(gold)) == pytest.approx((1.0, 1 / 5))


def test_macro_and_micro_averages_differ_on_hand_made_trees() -> None:
    scores = TreeScores()
    scores.update([T(0, [T(1), T(5)]), T(3, [T(4)])], [T(0, [T(1), T(2)]), T(3)])
    r = scores.compute()
    # nodes: tree 1 P = R = 2/3; tree 2 P = 1/2, R = 1. Micro: 3 of 5 predicted, 3 of 4 gold.
    assert r["node_f1"] == pytest.approx(2 / 3)
    assert r["node_macro_f1"] == pytest.approx(35 / 51)  # F1(7/12, 5/6), not the mean per-tree F1 (2/3)
    # labelled edges: tree 1 P = R = 1/2; tree 2 predicts one edge where gold has none (P 0, R 1)
    assert r["edge_f1"] == pytest.approx(0.4) and r["edge_macro_f1"] == pytest.approx(0.375)
    # parent-only edges (released code): tree 1 matches both "0 ->", tree 2 as above
    assert r["edge_parent_macro_f1"] == pytest.approx(2 / 3)
    single = TreeScores()
    single.update([T(7)], [T(7)])
    r = single.compute()
    assert r["edge_macro_f1"] == 1.0 and r["edge_f1"] == 0.0  # no edges on either side: released scores 1


def test_paper_budget_and_metric_units() -> None:
    budget = BUDGETS["tree-synthetic"]["paper"]
    assert (budget.steps, budget.batch_size, budget.clip) == (4000, 20, 5.0)
    units = {m.name: m.unit for m in METRICS}
    assert units["tree_edit_distance"] == "edits" and units["size_error"] == "nodes"
    assert units["node_macro_f1"] == units["edge_macro_f1"] == units["node_f1"] == ""


def _batch(trees: list[Tree]):
    vocab = JointVocab(9, 8)
    return collate([encode([n.label + 1 for n, _, _, _ in t.preorder()], t, vocab) for t in trees], vocab)


def test_label_layer_is_teacher_forced_with_gold_topology() -> None:
    """softmax(W h + alpha v_a + phi v_f): alpha / phi are the gold decisions in training, so v_a
    moves only the loss of nodes that have children and v_f only that of nodes with a next sibling."""
    torch.manual_seed(0)
    model = DRNN(TreeProblem(9, 8, 10, max_nodes=6, max_depth=3, max_children=3), SIZES["smoke"])
    leaf, parent, siblings = _batch([T(2)]), _batch([T(0, [T(1)])]), _batch([T(4, [T(5), T(6)])])
    before = [model(b).detach() for b in (leaf, parent, siblings)]
    with torch.no_grad():
        model.v_ancestral[3] = 5.0
    after = [model(b).detach() for b in (leaf, parent, siblings)]
    assert torch.equal(before[0], after[0])  # a lone leaf: alpha = 0
    assert not torch.allclose(before[1], after[1]) and not torch.allclose(before[2], after[2])
    with torch.no_grad():
        model.v_ancestral.zero_()
        model.v_fraternal[3] = 5.0
    fraternal = [model(b).detach() for b in (leaf, parent, siblings)]
    assert torch.equal(before[0], fraternal[0]) and torch.equal(before[1], fraternal[1])  # no next sibling
    assert not torch.allclose(before[2], fraternal[2])  # node 5 has a next sibling


@pytest.mark.parametrize("bias, size", [(-10.0, 1), (10.0, None)])
def test_decoding_follows_the_topology_decisions_within_limits(bias: float, size: int | None) -> None:
    problem = TreeProblem(9, 8, 10, max_nodes=5, max_depth=3, max_children=2)
    model = DRNN(problem, SIZES["smoke"])
    with torch.no_grad():
        model.topology.bias.fill_(bias)  # always stop (-10) or always continue (+10)
    batch = _batch([T(0, [T(1)]), T(2), T(3, [T(4), T(5, [T(6)])])])
    trees = model.decode(batch.src, batch.src_len)
    assert len(trees) == 3
    for t in trees:
        assert t.size() <= 5 and t.depth() <= 3 and t.max_children() <= 2
        assert size is None or t.size() == size
        assert len(t.children) <= 2  # the root never gets siblings, so its children are capped too
    if size is None:
        assert all(t.size() == 5 for t in trees)  # grows until the node budget stops it
