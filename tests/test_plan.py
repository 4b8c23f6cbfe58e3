"""Planning: selection, devices, compatibility as data."""

from __future__ import annotations

import pytest
import torch

from seqbench.manager import UnknownName, load_registry
from seqbench.plan import device_reason, make_plan, pair_reason, parse_devices, select
from seqbench.signatures import TOKENS
from seqbench.specs import ModelSpec


def test_select_names_globs_and_errors() -> None:
    known = ["gru", "lstm", "rnn", "tcn"]
    assert select(None, known, "model") == known
    assert select(["*n"], known, "model") == ["rnn", "tcn"]
    assert select(["lstm", "l*"], known, "model") == ["lstm"]
    with pytest.raises(UnknownName, match="did you mean 'lstm'"):
        select(["lstmm"], known, "model")
    with pytest.raises(ValueError, match="matches nothing"):
        select(["conv*"], known, "model")


def test_parse_devices() -> None:
    assert parse_devices("cpu,cpu") == ["cpu"]
    assert parse_devices("auto") == ["cuda" if torch.cuda.is_available() else "cpu"]
    assert parse_devices("cpu, cuda:1") == ["cpu", "cuda:1"]
    for bad, msg in (("tpu", "unknown device 'tpu'"), ("cuda:x", "expected cuda:N"), ("", "no device")):
        with pytest.raises(ValueError, match=msg):
            parse_devices(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_absent_cuda_gives_skipped_jobs_with_reason() -> None:
    registry = load_registry(include_entry_points=False)
    assert device_reason("cpu") is None
    assert "CUDA is not available" in str(device_reason("cuda"))
    plan = make_plan(registry, ["lstm"], None, ["cuda"], [0, 1], "smoke")
    device_skips = [s for s in plan.skipped if s.device == "cuda"]
    assert not plan.jobs and device_skips
    assert all(s.config is not None and "CUDA is not available" in s.reason for s in device_skips)
    assert all(s.device is None for s in plan.skipped if s not in device_skips)  # pair-level: data missing


def test_incompatible_pair_has_reason() -> None:
    registry = load_registry(include_entry_points=False)
    task = next(iter(registry.tasks.values()))
    tokens_only = ModelSpec("x", (TOKENS,), lambda p, s: torch.nn.Identity(), "x")
    reason = pair_reason(tokens_only, task, {})
    assert (reason is None) == (TOKENS in task.accepts)
    if reason:
        assert "no shared signature" in reason


def test_plan_is_models_x_tasks_x_devices_x_seeds() -> None:
    registry = load_registry(include_entry_points=False)
    plan = make_plan(registry, ["lstm", "gru"], ["lm-hmm"], ["cpu"], [0, 1, 2], "smoke")
    assert len(plan.jobs) == 6 and len({j.hash() for j in plan.jobs}) == 6
    assert {j.budget for j in plan.jobs} == {registry.tasks["lm-hmm"].budgets["smoke"]}  # one budget per task
