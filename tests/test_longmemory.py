"""Long-memory tasks (Bai, Kolter & Koltun 2018, Table 1): generators, metrics, baselines, TCN growth."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from seqbench_plugins.models.tcn import TCN, TCNConfig, levels_for, receptive_field
from seqbench_plugins.tasks.longmemory import data as lm
from seqbench_plugins.tasks.longmemory.metrics import AddingMSE, CopyLoss, DigitAccuracy
from seqbench_plugins.tasks.longmemory.task import SeqHead

from seqbench.manager import get_registry
from seqbench.signatures import CAUSAL_SEQ, SeqProblem
from seqbench.specs import TaskContext

TASKS = ("adding-200", "adding-400", "adding-600", "copy-memory", "seq-digits", "perm-digits")


# -- generators ---------------------------------------------------------------------------
def test_adding_marks_two_distinct_positions_and_targets_their_sum() -> None:
    x, y = lm.adding(2000, 50, np.random.default_rng(0))
    assert x.shape == (2000, 50, 2) and y.shape == (2000,) and x.dtype == torch.float32
    values, marks = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(marks.unique().tolist()) == {0.0, 1.0}
    assert (marks.sum(1) == 2).all()  # exactly two marks, never the same position twice
    assert torch.allclose((values * marks).sum(1), y)
    marked = marks.sum(0)  # the paper's code draws both positions over the whole sequence
    assert (marked > 0).all() and float(marked[:25].sum()) == pytest.approx(float(marked[25:].sum()), rel=0.1)
    again = lm.adding(2000, 50, np.random.default_rng(0))
    assert torch.equal(again[0], x) and torch.equal(again[1], y)


def test_adding_predict_one_baseline_is_one_sixth() -> None:
    _, y = lm.adding(200_000, 3, np.random.default_rng(1))
    assert lm.ADDING_BASELINE_MSE == pytest.approx(1 / 6)
    assert float(((y - 1.0) ** 2).mean()) == pytest.approx(1 / 6, abs=2e-3)  # Var(U1 + U2) = 2/12


def test_copy_memory_layout() -> None:
    blank = 30
    x, y = lm.copy_memory(500, blank, np.random.default_rng(2))
    assert x.shape == (500, blank + 20, 1) and y.shape == (500, blank + 20) and y.dtype == torch.int64
    s = x[..., 0].long()
    assert ((s[:, :10] >= 1) & (s[:, :10] <= 8)).all() and set(s[:, :10].unique().tolist()) == set(range(1, 9))
    assert (s[:, 10:blank + 9] == 0).all()  # T - 1 blanks
    assert (s[:, blank + 9:] == 9).all() and s[:, blank + 9:].shape[1] == 11  # delimiter + 10 more nines
    assert (y[:, :blank + 10] == 0).all()
    assert torch.equal(y[:, -10:], s[:, :10])  # the output after the delimiter repeats the first 10 symbols
    assert lm.copy_memory_span(blank) == (blank + 10) - 0 + 1  # step T + 10 reads step 0


def test_memoryless_baseline_is_table_1s_lstm_figure() -> None:
    assert lm.memoryless_loss(1000) == pytest.approx(10 * math.log(8) / 1020)
    assert lm.memoryless_loss(1000) == pytest.approx(0.0204, abs=5e-5)  # Table 1: LSTM 0.0204, RNN 0.0202
    blank = 6
    _, y = lm.copy_memory(7, blank, np.random.default_rng(3))
    logits = torch.full((7, blank + 20, 10), -1e4)
    logits[:, :blank + 10, 0] = 0.0  # certain of every blank
    logits[:, blank + 10:, 1:9] = 0.0  # uniform over the 8 symbols when recalling
    metric = CopyLoss(lm.memoryless_loss(blank))
    metric.update(logits, (None, y))
    out = metric.compute()
    assert out["loss"] == pytest.approx(lm.memoryless_loss(blank), rel=1e-5)
    assert out["memoryless_ratio"] == pytest.approx(1.0, rel=1e-5)
    assert out["recall_loss"] == pytest.approx(math.log(8), rel=1e-5)


def test_digit_sequences_and_the_fixed_permutation() -> None:
    x, y = lm.digit_sequences(8, permuted=False)
    assert x.shape == (1797, 64, 1) and y.shape == (1797,) and set(y.tolist()) == set(range(10))
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    p, py = lm.digit_sequences(8, permuted=True)
    order = torch.from_numpy(lm.permutation(64))
    assert torch.equal(p, x[:, order]) and torch.equal(py, y)
    assert not torch.equal(order, torch.arange(64)) and sorted(order.tolist()) == list(range(64))
    assert np.array_equal(lm.permutation(64), lm.permutation(64))  # fixed: no run seed involved
    big, _ = lm.digit_sequences(28, permuted=False)
    assert big.shape == (1797, 784, 1) and float(big.min()) >= 0.0 and float(big.max()) <= 1.0
    down = torch.nn.functional.adaptive_avg_pool2d(big[:5, :, 0].view(5, 1, 28, 28), 8).flatten(1)
    assert float((down - x[:5, :, 0]).abs().mean()) < 0.1  # the same digits, only finer


def test_digit_splits_are_disjoint_and_permutation_ignores_the_data_seed() -> None:
    train, val, test = lm.split(1797, (1197, 200, 400), seed=0)
    assert len(set(train) | set(val) | set(test)) == 1797
    spec = get_registry().task("perm-digits")
    a, b = spec.build(TaskContext("quick", data_seed=0)), spec.build(TaskContext("quick", data_seed=1))
    assert [len(a.splits[s][0]) for s in ("train", "val", "test")] == [1197, 200, 400]
    xs, ys = lm.digit_sequences(8, permuted=True)
    for task in (a, b):  # whatever the split, every example is one of the same permuted sequences
        x, labels = task.splits["test"]
        rows = [(xs == x[i]).all(dim=(1, 2)).nonzero()[0, 0] for i in range(20)]
        assert torch.equal(ys[torch.stack(rows)], labels[:20])


# -- metrics, against hand-computed values --------------------------------------------------
def test_adding_mse_over_uneven_batches() -> None:
    metric = AddingMSE()
    metric.update(torch.tensor([1.0, 0.5]), (None, torch.tensor([1.5, 0.5])))
    metric.update(torch.tensor([2.0]), (None, torch.tensor([1.0])))
    out = metric.compute()
    assert out["mse"] == pytest.approx((0.25 + 0 + 1) / 3)
    assert out["mse_ratio"] == pytest.approx(out["mse"] * 6)


def test_copy_loss_by_hand() -> None:
    blank = 1  # 21 steps; the last 10 are recalled
    y = torch.zeros(1, 21, dtype=torch.long)
    y[0, -10:] = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 1, 2])
    logits = torch.zeros(1, 21, 10)  # uniform everywhere: ln 10 per step
    logits[0, -1, 2] = 100.0  # the last recall step certain and right
    logits[0, -2, 5] = 100.0  # the one before certain and wrong (target 1)
    metric = CopyLoss(lm.memoryless_loss(blank))
    metric.update(logits, (None, y))
    out = metric.compute()
    assert out["loss"] == pytest.approx((19 * math.log(10) + 100.0) / 21, rel=1e-5)
    assert out["recall_loss"] == pytest.approx((8 * math.log(10) + 100.0) / 10, rel=1e-5)
    assert out["copy_accuracy"] == pytest.approx(1 / 10)  # argmax of a uniform row is class 0: wrong
    assert out["memoryless_ratio"] == pytest.approx(out["loss"] / (10 * math.log(8) / 21))


def test_digit_accuracy_by_hand() -> None:
    metric = DigitAccuracy()
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.6, 0.2]]))
    metric.update(logits, (None, torch.tensor([0, 2])))
    out = metric.compute()
    assert out["accuracy"] == 0.5
    assert out["cross_entropy"] == pytest.approx((math.log(2) + math.log(5)) / 2)


# -- the TCN covers the span the task states -----------------------------------------------
def test_tcn_levels_grow_to_cover_the_task_memory() -> None:
    assert receptive_field(3, 4) == 61 and levels_for(0, 3, 4) == 4 and levels_for(61, 3, 4) == 4
    assert levels_for(62, 3, 4) == 5 and levels_for(600, 3, 4) == 8  # 1 + 4 (2^8 - 1) = 1021
    torch.manual_seed(0)  # a reproducible initialisation (dead ReLUs could hide a path otherwise)
    config = TCNConfig(channels=32, levels=2, kernel=3, dropout=0.0)
    grown = TCN(SeqProblem(1, 60, memory=60), config)
    plain = TCN(SeqProblem(1, 60), config)
    assert len(grown.blocks) == 4 and grown.receptive_field == 61 >= 60 > receptive_field(3, 3)
    assert len(plain.blocks) == 2 and plain.receptive_field == 13
    for tcn, sees_first in ((grown, True), (plain, False)):
        x = torch.randn(16, 60, 1, requires_grad=True)
        tcn(x)[:, -1].sum().backward()
        assert (x.grad[:, 0].abs().sum() > 0) == sees_first  # the last output reads step 0 only when grown


def test_paper_tcn_configurations_keep_their_parameter_counts() -> None:
    from benchmarks.reference import REFERENCES, count

    refs = {r.name: r for r in REFERENCES}
    assert count(refs["tcn-copy-memory"].build()) == 12_530  # 8 levels of 10, kernel 8: 3,571 >= 1,031
    assert count(refs["tcn-adding"].build()) == 96_001  # 8 levels of 30, kernel 7: 3,061 >= 600
    assert levels_for(lm.copy_memory_span(1000), 8, 8) == 8 and levels_for(600, 7, 8) == 8


# -- the registered tasks -----------------------------------------------------------------
def test_tasks_state_their_memory_and_pair_with_the_backbones() -> None:
    registry = get_registry()
    backbones = {"rnn", "lstm", "gru", "tcn", "transformer"}
    for name in TASKS:
        spec = registry.task(name)
        assert spec.accepts == (CAUSAL_SEQ,) and spec.family == "long-memory"
        assert backbones <= {m for m, s in registry.models.items() if CAUSAL_SEQ in s.signatures}
    quick = {name: registry.task(name).build(TaskContext("quick")).problem(CAUSAL_SEQ) for name in TASKS}
    assert quick["adding-600"] == SeqProblem(2, 600, 600)
    assert quick["copy-memory"] == SeqProblem(1, 120, 111)
    assert quick["seq-digits"] == SeqProblem(1, 64, 64)


def test_copy_task_reads_every_step_and_trains_on_all_of_them() -> None:
    task = get_registry().task("copy-memory").build(TaskContext("smoke"))
    head = task.adapter(TCN(task.problem(CAUSAL_SEQ), TCNConfig(8, 1, 3, 0.0)))  # type: ignore[arg-type]
    assert isinstance(head, SeqHead) and not head.last
    x, y = next(task.eval_batches("test", 4))
    out = task.predict(head, (x, y))
    assert out.shape == (4, 28, 10)
    expected = torch.nn.functional.cross_entropy(out.reshape(-1, 10), y.reshape(-1))
    assert float(task.loss(head, (x, y)).detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
