"""Conformance tests derived from the registry: every plugin is tested for free.

Every runnable (model, task) pair trains and evaluates at the ``smoke`` preset with
every declared metric finite; every causal-sequence backbone honours its contract.
"""

from __future__ import annotations

import pytest
import torch

from seqbench.manager import get_registry
from seqbench.signatures import CAUSAL_SEQ, SeqProblem
from seqbench.testing import assert_pair_runs, runnable_pairs

REGISTRY = get_registry()
PAIRS = runnable_pairs(REGISTRY)
BACKBONES = sorted(n for n, m in REGISTRY.models.items() if CAUSAL_SEQ in m.signatures)


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
    torch.manual_seed(0)
    module = REGISTRY.models[name].build(SeqProblem(input_size=5, max_len=16), "smoke").eval()
    x = torch.randn(3, 12, 5)
    y = module(x)
    assert y.shape == (3, 12, module.output_size)
    changed = x.clone()
    changed[:, 7:] = torch.randn(3, 5, 5)  # the future changes...
    assert torch.allclose(module(changed)[:, :7], y[:, :7], atol=1e-5), f"{name} is not causal"  # ...the past not
    if hasattr(module, "step"):
        state = None
        outs = []
        for t in range(12):
            out, state = module.step(x[:, t], state)
            outs.append(out)
        assert torch.allclose(torch.stack(outs, 1), y, atol=1e-4), f"{name}: step() differs from forward()"
