"""The host's evaluation loop (Task.evaluate): eval mode, no autograd, the whole split once,
training mode restored; tasks supply a metric object, and a task that still overrides
``evaluate`` itself keeps working."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from seqbench.signatures import Signature
from seqbench.specs import Budget, MetricSpec, TaskContext, TaskSpec
from seqbench.task import Batch, PairMetric, TensorTask

BUDGET = Budget(steps=1, batch_size=2, eval_batch_size=3)  # 7 examples: batches of 3, 3 and 1


def _spec(name: str = "toy") -> TaskSpec:
    return TaskSpec(name, (), lambda context: ToyTask(_spec(name), context), "toy regression",
                    (MetricSpec("mae", "min"), MetricSpec("seen", "max")), "samples", {"smoke": BUDGET})


class MeanError:
    """(prediction, target) accumulator that also records how the loop called it."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0
        self.grad_enabled: list[bool] = []

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        self.grad_enabled.append(torch.is_grad_enabled())
        self.total += float((prediction - target).abs().sum())
        self.count += target.numel()

    def compute(self) -> dict[str, float]:
        return {"mae": self.total / self.count, "seen": float(self.count)}


class ToyTask(TensorTask):
    def __init__(self, spec: TaskSpec, context: TaskContext) -> None:
        super().__init__(spec, context)
        x = torch.arange(7, dtype=torch.float32).unsqueeze(1)
        self.splits = {"train": (x, 2 * x), "val": (x, 2 * x), "test": (x, 2 * x)}
        self.metrics_made: list[MeanError] = []
        self.modes: list[bool] = []

    def problem(self, signature: Signature) -> object:
        return None

    def count(self, batch: Batch) -> tuple[int, int]:
        return len(batch[0]), len(batch[0])

    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        return (module(batch[0]) - batch[1]).abs().mean()

    def predict(self, module: nn.Module, batch: Batch) -> Any:
        self.modes.append(module.training)
        return module(batch[0])

    def metric(self, split: str) -> PairMetric:
        self.metrics_made.append(MeanError())
        return PairMetric(self.metrics_made[-1], lambda output, batch: (output, batch[1]))


def _task() -> ToyTask:
    return ToyTask(_spec(), TaskContext("smoke"))


@pytest.mark.parametrize("training", [True, False])
def test_loop_scores_the_whole_split_in_eval_mode_and_restores_the_mode(training: bool) -> None:
    task, module = _task(), nn.Linear(1, 1)
    with torch.no_grad():
        module.weight.fill_(2.0)
        module.bias.fill_(1.0)  # off by exactly 1 everywhere
    module.train(training)
    out = task.evaluate(module, "test", torch.device("cpu"))
    assert out == {"mae": 1.0, "seen": 7.0}  # every example once, the last short batch kept
    assert task.modes == [False, False, False]  # eval mode for every batch
    assert task.metrics_made[-1].grad_enabled == [False, False, False]
    assert module.training is training


def test_each_pass_gets_a_fresh_metric_and_a_failure_still_restores_the_mode() -> None:
    task, module = _task(), nn.Linear(1, 1)
    task.evaluate(module, "val", torch.device("cpu"))
    task.evaluate(module, "val", torch.device("cpu"))
    assert len(task.metrics_made) == 2 and task.metrics_made[1].count == 7

    def broken(output: Any, batch: Batch) -> tuple[Any, Any]:
        raise RuntimeError("scoring failed")

    task.metric = lambda split: PairMetric(MeanError(), broken)  # type: ignore[method-assign]
    module.train()
    with pytest.raises(RuntimeError, match="scoring failed"):
        task.evaluate(module, "test", torch.device("cpu"))
    assert module.training


def test_a_task_that_overrides_evaluate_keeps_working() -> None:
    class OwnLoop(ToyTask):
        def metric(self, split: str) -> PairMetric:
            raise AssertionError("never called when evaluate is overridden")

        def evaluate(self, module: nn.Module, split: str, device: torch.device) -> dict[str, float]:
            return {"mae": 0.5, "seen": 7.0}

    task = OwnLoop(_spec(), TaskContext("smoke"))
    assert task.evaluate(nn.Linear(1, 1), "test", torch.device("cpu")) == {"mae": 0.5, "seen": 7.0}


def test_a_task_with_neither_metric_nor_evaluate_says_what_to_implement() -> None:
    class NoScore(ToyTask):
        metric = TensorTask.metric  # type: ignore[assignment]

    task = NoScore(_spec("bare"), TaskContext("smoke"))
    with pytest.raises(NotImplementedError, match=r"task 'bare' supplies no metric: implement Task.metric"):
        task.evaluate(nn.Linear(1, 1), "test", torch.device("cpu"))
