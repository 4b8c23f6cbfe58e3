"""Batch-1 inference latency against sequence length, generic backbones on the language task.

Where RNN (linear in T, sequential), TCN (linear, parallel over T) and Transformer
(quadratic attention) differ most. Each backbone is built at ``--bench-preset`` sizes with
``max_len`` = the swept length, wrapped by the task's own adapter, and fed the first test
example's tokens tiled to that length. Lengths above 64 are ``slow``. As in seqbench's own
timing, warm-up rounds are not counted and the garbage collector is paused (pytest-benchmark
does neither by default: without them two runs minutes apart differed by up to 1.9x at T=64).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch

from benchmarks.conftest import DEVICES, build_task
from benchmarks.test_models import representative_pairs
from seqbench.manager import Registry, get_registry
from seqbench.measure import sync
from seqbench.signatures import CAUSAL_SEQ, TOKENS

_REG = get_registry()
BACKBONES = [(m, t) for m, t in representative_pairs(_REG)
             if CAUSAL_SEQ in _REG.models[m].signatures and TOKENS in _REG.tasks[t].accepts]
LENGTHS = [pytest.param(64, id="T64")] + [pytest.param(n, id=f"T{n}", marks=pytest.mark.slow)
                                          for n in (128, 256, 512, 1024, 2048)]


@pytest.mark.benchmark(warmup=True, warmup_iterations=20, disable_gc=True)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize(("model", "task_name"), [pytest.param(m, t, id=m) for m, t in BACKBONES])
def test_latency_vs_length(benchmark: Any, registry: Registry, preset: str, model: str, task_name: str,
                           length: int, device: str) -> None:
    task = build_task(registry, task_name, preset)
    problem = dataclasses.replace(task.problem(CAUSAL_SEQ), max_len=length)  # type: ignore[type-var]
    torch.manual_seed(0)
    dev = torch.device(device)
    module = task.adapter(registry.model(model).build(problem, preset)).to(dev).eval()  # type: ignore[arg-type]
    tokens = next(iter(task.eval_batches("test", 1)))[0]
    x = tokens.repeat(1, -(-length // tokens.shape[1]))[:, :length].to(dev)
    benchmark.group = f"latency-{task_name}-{device}-T{length}"
    benchmark.extra_info.update(length=length, preset=preset, threads=torch.get_num_threads())

    def infer() -> None:
        with torch.no_grad():
            module(x)
        sync(dev)

    benchmark(infer)
