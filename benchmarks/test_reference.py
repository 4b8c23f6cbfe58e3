"""Reference configurations: parameter counts (fast) and train / inference timings (``slow``).

Train = forward + MSE loss + backward + Adam step; inference = forward under no_grad. Both
synchronise CUDA inside the timed call. Run: ``pytest benchmarks/test_reference.py -m slow
--benchmark-only``; figures land in the benchmark JSON with samples in ``extra_info``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from benchmarks.conftest import DEVICES
from benchmarks.reference import REFERENCES, Reference, count
from seqbench.measure import steady_allocator, sync

REFS = [pytest.param(r, id=r.name) for r in REFERENCES]
PARAM_TOLERANCE = 0.10  # within 10% of the reference, unless the docstring of reference.py explains otherwise
EXPLAINED = {"convlstm-moving-mnist"}


@pytest.mark.parametrize("ref", REFS)
def test_reference_parameter_count(ref: Reference) -> None:
    params = count(ref.build())
    if ref.reference_params is not None and ref.name not in EXPLAINED:
        assert abs(params - ref.reference_params) <= PARAM_TOLERANCE * ref.reference_params, (params, ref)


def test_convlstm_reference_arithmetic() -> None:
    """The ConvLSTM count differs from the reference code's for the reasons reference.py gives."""
    from seqbench_plugins.models.convrnn import ConvLSTMCell
    from seqbench_plugins.models.predrnn import StackedConvLSTM

    (ref,) = (r for r in REFERENCES if r.name == "convlstm-moving-mnist")
    module = ref.build()
    assert isinstance(module, StackedConvLSTM)
    peepholes = sum(cell.peep.numel() for cell in module.modules() if isinstance(cell, ConvLSTMCell))
    biases = sum(m.bias.numel() for m in module.modules() if isinstance(m, torch.nn.Conv2d) and m.bias is not None)
    shared = count(module) - peepholes - biases
    hidden, kernel, layers = 128, 5, 4
    unused_in_reference = layers * (2 * hidden * hidden * kernel**2 + 2 * hidden * hidden)  # conv_o + conv_last
    assert (peepholes, biases) == (layers * 3 * hidden * 16 * 16, layers * 4 * hidden + 16)
    assert shared + unused_in_reference == 15_083_520  # reported as 15.08 M


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("phase", ["train", "inference"])
@pytest.mark.parametrize("ref", REFS)
def test_reference_speed(benchmark: Any, ref: Reference, phase: str, device: str) -> None:
    steady_allocator()  # as in a seqbench job process
    torch.manual_seed(0)
    dev = torch.device(device)
    module = ref.build().to(dev)
    x, y = (t.to(dev) for t in ref.make_input(ref.batch))
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    benchmark.group = f"reference-{ref.name}"
    benchmark.extra_info.update(samples=ref.batch, params=count(module), reference_params=ref.reference_params,
                                threads=torch.get_num_threads())

    def train() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.mse_loss(module(x), y).backward()
        optimizer.step()
        sync(dev)

    def infer() -> None:
        with torch.no_grad():
            module(x)
        sync(dev)

    module.train(phase == "train")
    benchmark.pedantic(train if phase == "train" else infer, rounds=3, warmup_rounds=1, iterations=1)

