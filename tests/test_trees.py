"""Tree recovery: tree type and brackets, synthetic and Python data, metrics, DRNN, the LM adapter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from seqbench_plugins.models.drnn import DRNN, SIZES, _assemble
from seqbench_plugins.models.rnn import SIZES as RNN_SIZES
from seqbench_plugins.models.rnn import RecurrentBackbone
from seqbench_plugins.tasks.trees.batch import JointVocab, collate, encode
from seqbench_plugins.tasks.trees.lm import BracketState, TreeLM
from seqbench_plugins.tasks.trees.metrics import TreeScores, edit_distance
from seqbench_plugins.tasks.trees.python import PythonConfig, char_ids, extract, maximal_expressions
from seqbench_plugins.tasks.trees.sources import SYNTH, load_python, load_synthetic
from seqbench_plugins.tasks.trees.synth import Grammar, SynthConfig, sample_split

from seqbench.signatures import SeqProblem, TreeProblem
from seqbench.task import to_device
from seqbench.trees import Tree, TreeFormatError, from_brackets, to_brackets

NAMES = list("abcdefgh")
T = Tree


def test_brackets_round_trip_and_preorder():
    tree = T(0, [T(1), T(2, [T(3), T(4, [T(5)])]), T(6)])
    text = to_brackets(tree, NAMES)
    assert text == "a ( b c ( d e ( f ) ) g )"
    assert from_brackets(text, NAMES) == tree
    assert [n.label for n, _, _, _ in tree.preorder()] == [0, 1, 2, 3, 4, 5, 6]
    assert (tree.size(), tree.depth(), tree.max_children()) == (7, 4, 3)


@pytest.mark.parametrize("text, message", [
    ("", "empty tree string"), ("( a )", "must follow a label"), ("a ( )", "empty child list"),
    ("a ( b", "unclosed"), ("a ) b", "unbalanced"), ("a b", "exactly one root"), ("a ( z )", "unknown label"),
    ("a ( b ) ( c )", "must follow a label"),
])
def test_bad_bracket_strings_raise_clear_errors(text, message):
    with pytest.raises(TreeFormatError, match=message):
        from_brackets(text, NAMES)


def test_encode_and_collate_layout():
    vocab = JointVocab(input_vocab=9, label_vocab=8)
    a, b = T(0, [T(1), T(2, [T(3)])]), T(5, [T(6)])
    batch = collate([encode([1, 2, 3, 4], a, vocab), encode([6, 7], b, vocab)], vocab)
    assert batch.labels.tolist() == [0, 1, 2, 3, 5, 6]
    assert batch.parent.tolist() == [-1, 0, 0, 2, -1, 4]
    assert batch.prev.tolist() == [-1, -1, 1, -1, -1, -1]
    assert batch.has_children.tolist() == [1, 0, 1, 0, 1, 0] and batch.has_next.tolist() == [0, 1, 0, 0, 0, 0]
    assert batch.has_children.dtype == torch.float32 and batch.tree_of.tolist() == [0, 0, 0, 0, 1, 1]
    # second sequence: two left pads, source, SEP, then the target; loss only from SEP on
    assert batch.lm_in[1, :5].tolist() == [0, 0, 10, 11, vocab.SEP]
    assert batch.lm_mask[1].tolist()[:7] == [0, 0, 0, 0, 1, 1, 1]
    target = batch.lm_out[0][batch.lm_mask[0] > 0].tolist()
    assert vocab.decode(target) == a and target[-1] == vocab.EOS
    assert to_device(batch, "cpu").golds == [a, b]
    with pytest.raises(ValueError, match="empty input string"):
        encode([], a, vocab)


def test_synthetic_is_deterministic_and_within_limits():
    config = SynthConfig(vocab=26, max_depth=4, max_children=3, max_nodes=15)
    trees, rejected = sample_split(Grammar(config, np.random.default_rng(0)), 200, np.random.default_rng(1))
    again, _ = sample_split(Grammar(config, np.random.default_rng(0)), 200, np.random.default_rng(1))
    assert trees == again and rejected > 0
    assert all(3 <= t.size() <= 15 and t.depth() <= 4 and t.max_children() <= 3 for t in trees)
    data = load_synthetic(SYNTH["smoke"], seed=0)
    ex = data.splits["train"][0]
    assert ex.src.tolist() == [n.label + 1 for n, _, _, _ in ex.tree.preorder()]  # input = pre-order labels
    with pytest.raises(ValueError, match="max_depth"):
        Grammar(SynthConfig(vocab=26, max_depth=1, max_children=2, max_nodes=5), np.random.default_rng(0))


def test_python_expressions_from_a_directory(tmp_path):
    (tmp_path / "good.py").write_text("x = foo(a, b + 1)\nif y.z > 2:\n    print('hi', end='')\n" * 1)
    (tmp_path / "bad.py").write_text("print 'python 2'\n")
    texts = [t for t, _ in maximal_expressions((tmp_path / "good.py").read_text())]
    assert texts == ["x", "foo(a, b + 1)", "y.z > 2", "print('hi', end='')"]
    lines = [f"v{i} = f{i}(a{i}, b + {i})" for i in range(60)]
    (tmp_path / "many.py").write_text("\n".join(lines))
    config = PythonConfig(min_nodes=3, max_nodes=10, max_depth=4, max_children=4, max_input_len=40,
                          n_train=5, n_val=1, n_test=1)
    splits, stats = extract(tmp_path, config, seed=0)
    assert stats["files"] >= 1 and stats["too_small"] > 0
    data = load_python(config, 0, str(tmp_path))
    assert "Call" in data.names and "BinOp" in data.names and "Load" not in data.names
    assert from_brackets(splits["train"][0][1], data.names) is not None
    big = PythonConfig(min_nodes=3, max_nodes=10, max_depth=4, max_children=4, max_input_len=40,
                       n_train=500, n_val=1, n_test=1)
    with pytest.raises(ValueError, match=r"not enough expressions.*'unparseable_files': 1"):
        extract(tmp_path, big, seed=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        extract(tmp_path / "missing", config, seed=0)
    with pytest.raises(ValueError, match="empty input string"):
        char_ids("")


def test_metrics_on_known_trees():
    gold = T(0, [T(1), T(2)])
    scores = TreeScores()
    scores.update([T(0, [T(1), T(3)]), T(0, [T(1)])], [gold, gold])
    r = scores.compute()
    assert r["node_precision"] == pytest.approx(4 / 5) and r["node_recall"] == pytest.approx(4 / 6)
    assert r["edge_precision"] == pytest.approx(2 / 3) and r["edge_recall"] == pytest.approx(2 / 4)
    assert r["exact_match"] == 0 and r["size_error"] == pytest.approx(0.5)
    assert r["tree_edit_distance"] == pytest.approx(1.0)
    assert edit_distance(gold, gold) == 0 and edit_distance(T(0), gold) == 2
    with pytest.raises(ValueError, match="no trees"):
        TreeScores().compute()


def _problem() -> TreeProblem:
    return TreeProblem(input_vocab=9, label_vocab=8, max_input_len=10, max_nodes=6, max_depth=3, max_children=2)


def _batch(problem: TreeProblem):
    vocab = JointVocab(problem.input_vocab, problem.label_vocab)
    trees = [T(0, [T(1), T(2, [T(3)])]), T(5, [T(6)]), T(4, [T(7), T(7)])]
    return collate([encode([n.label + 1 for n, _, _, _ in t.preorder()], t, vocab) for t in trees], vocab), vocab


def test_drnn_learns_and_decodes_within_limits():
    torch.manual_seed(0)
    problem = _problem()
    batch, _ = _batch(problem)
    model = DRNN(problem, SIZES["smoke"])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(40):
        loss = model(batch).sum() / batch.labels.numel()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert model(batch).shape == (3,)
    assert model.decode(batch.src, batch.src_len) == list(batch.golds)  # memorises three trees
    # an untrained model still respects every size limit
    wild = DRNN(TreeProblem(9, 8, 10, max_nodes=4, max_depth=2, max_children=3), SIZES["smoke"])
    with torch.no_grad():
        wild.topology.bias.fill_(10.0)  # always "has children" and "has next sibling"
    for t in wild.decode(batch.src, batch.src_len):
        assert t.size() <= 4 and t.depth() <= 2 and t.max_children() <= 3


def test_assemble_keeps_sibling_order():
    assert _assemble([0, 1, 2, 3, 4], [-1, -1, 0, 0, 2], 2) == [T(0, [T(2, [T(4)]), T(3)]), T(1)]


def test_bracket_constraints_respect_limits():
    problem, vocab = _problem(), JointVocab(9, 8)
    state = BracketState(problem)
    assert state.allowed() == (True, False, False, False)
    for tok in [vocab.first_label, vocab.OPEN, vocab.first_label + 1]:
        state.push(tok, vocab)
    assert state.allowed() == (True, True, True, False)
    state.push(vocab.OPEN, vocab)  # depth 3 = max_depth: no further opening
    state.push(vocab.first_label, vocab)
    assert state.allowed()[1] is False


@pytest.mark.parametrize("beam", [1, 3])
def test_lm_adapter_learns_and_step_matches_recompute(beam):
    torch.manual_seed(0)
    problem = _problem()
    batch, vocab = _batch(problem)
    backbone = RecurrentBackbone("lstm", SeqProblem(16, 40), RNN_SIZES["smoke"])
    model = TreeLM(backbone, vocab, problem, embed=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(120):
        loss = model(batch).sum() / batch.labels.numel()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.beam = beam
    with torch.no_grad():
        assert model.decode(batch.src, batch.src_len) == list(batch.golds)
        streamed = model._greedy(model.prefix(batch.src, batch.src_len))
        model.backbone.step = None  # type: ignore[assignment]  # force the full-recompute path
        assert model._greedy(model.prefix(batch.src, batch.src_len)) == streamed


def test_task_contract_and_bad_model_output():
    from seqbench_plugins.tasks.trees import seqbench_register_tasks

    from seqbench.signatures import CAUSAL_SEQ, TREE
    from seqbench.specs import TaskContext

    spec = next(s for s in seqbench_register_tasks() if s.name == "tree-synthetic")
    task = spec.build(TaskContext("smoke"))
    problem = task.problem(TREE)
    assert isinstance(problem, TreeProblem) and problem.label_vocab == 26 and problem.input_vocab == 27
    assert isinstance(task.problem(CAUSAL_SEQ), SeqProblem)
    batch = next(task.train_batches(4, torch.Generator().manual_seed(0)))
    assert task.count(batch) == (4, batch.labels.numel())
    assert sum(len(b.golds) for b in task.eval_batches("test", 10)) == 32  # last batch kept

    class WrongShape(torch.nn.Module):
        def forward(self, batch):
            return torch.zeros(2, 2)

    with pytest.raises(ValueError, match="one NLL per tree"):
        task.loss(WrongShape(), batch)


def test_recovered_trees_are_shown_beside_gold_with_differences_marked() -> None:
    from seqbench_plugins.tasks.trees.pictures import side_by_side

    from seqbench.trees import Tree

    gold = Tree(0, [Tree(1), Tree(2, [Tree(1)])])
    predicted = Tree(0, [Tree(1), Tree(1)])
    lines = side_by_side(gold, predicted, ["a", "b", "c"], "tree 0").splitlines()
    assert lines[0] == "tree 0" and lines[1].split() == ["gold", "recovered"]
    assert lines[3].split() == ["a", "a"] and lines[4].split() == ["b", "b"]
    assert lines[5].split() == ["c", "✗", "b"]  # a wrong label at the same place
    assert lines[6].split() == ["b"]  # a gold node the recovered tree lacks
