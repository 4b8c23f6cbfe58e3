"""Conformance tests derived from the registry: every plugin is tested for free.

Every runnable (model, task) pair trains and evaluates at the ``smoke`` preset with
exactly the declared metrics, all finite; every causal-sequence backbone and every task that
needs no user data passes the plugin kit's contract checks (seqbench.testing).
"""

from __future__ import annotations

import pytest
import torch

from seqbench.manager import get_registry
from seqbench.signatures import CAUSAL_SEQ
from seqbench.testing import assert_pair_runs, check_backbone, check_task, runnable_pairs

REGISTRY = get_registry()
PAIRS = runnable_pairs(REGISTRY)
BACKBONES = sorted(n for n, m in REGISTRY.models.items() if CAUSAL_SEQ in m.signatures)
TASKS = sorted(n for n, t in REGISTRY.tasks.items() if t.available({}) is None)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # CI machines have 2 cores; pytest-xdist may use both


def test_every_task_and_model_has_a_pair() -> None:
    paired = {m for m, _ in PAIRS} | {t for _, t in PAIRS}
    lonely = [n for n in [*REGISTRY.models, *REGISTRY.tasks] if n not in paired]
    unavailable = {t for t, spec in REGISTRY.tasks.items() if spec.available({})}
    assert set(lonely) <= unavailable, f"registered but never runnable: {lonely}"


@pytest.mark.parametrize(("model", "task"), PAIRS, ids=[f"{m}-x-{t}" for m, t in PAIRS])
def test_pair_runs_at_smoke(model: str, task: str) -> None:
    result = assert_pair_runs(model, task)
    assert result.measures["params"] >= 0


@pytest.mark.parametrize("name", BACKBONES)
def test_backbone_contract(name: str) -> None:
    check_backbone(REGISTRY.models[name])  # output shape, causality at every cut, step == forward


@pytest.mark.parametrize("name", TASKS)
def test_task_contract(name: str) -> None:
    check_task(REGISTRY.tasks[name])  # problems, batches, declared metric names, whole-split scoring
