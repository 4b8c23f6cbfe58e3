"""CPU–CUDA parity: do the same weights and inputs give the same outputs and metrics on both devices?

Run automatically by :func:`seqbench.measure.measure_job` in every CUDA job: the trained
module's predictions on a fixed test batch are compared with those of a CPU copy of the
same weights (``cpu_copy``), and (below the paper preset, where a CPU pass over the test
split is cheap) the test metrics too. Stated tolerances, per precision:

* outputs: ``max |cuda - cpu| <= atol + rtol * max |cpu|``. fp32 uses atol 1e-3, rtol 1e-2:
  cuDNN convolutions run in TF32 by default (10-bit mantissa, relative error ~1e-3 per
  product), and recurrent models compound it over time steps. bf16 / fp16 autocast on CUDA
  against fp32 on the CPU: atol 5e-2, rtol 5e-2 (8- and 11-bit mantissas).
* metrics: relative difference ``|cuda - cpu| / max(|cpu|, 1e-8)`` at most 1e-2 (fp32) or
  5e-2 (autocast).

A pair that fails gets ``parity_ok = 0`` and is flagged in the leaderboard.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

import torch
from torch import nn

from seqbench.specs import RunOptions
from seqbench.task import Task, to_device
from seqbench.train_step import precision

TOLERANCE: dict[str | None, tuple[float, float, float]] = {  # (atol, rtol) on outputs, rtol on metrics
    None: (1e-3, 1e-2, 1e-2),
    "bf16": (5e-2, 5e-2, 5e-2),
    "fp16": (5e-2, 5e-2, 5e-2),
}
PARITY_BATCH = 8


def tensors(value: Any) -> list[torch.Tensor]:
    """Every floating-point tensor inside a (nested) prediction, in a fixed order."""
    if isinstance(value, torch.Tensor):
        return [value] if value.is_floating_point() or value.is_complex() else [value.double()]
    if isinstance(value, dict):
        return [t for k in sorted(value, key=str) for t in tensors(value[k])]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors(v)]
    if is_dataclass(value) and not isinstance(value, type):
        return [t for f in fields(value) for t in tensors(getattr(value, f.name))]
    return []


def compare_outputs(outputs: Any, expected: Any, atol: float, rtol: float) -> tuple[float, bool]:
    """(max absolute difference, within ``atol + rtol * max |expected|``) over all tensors."""
    a, b = tensors(outputs), tensors(expected)
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
        return float("inf"), False
    diff, scale = 0.0, 0.0
    for x, y in zip(a, b, strict=True):
        x, y = x.detach().double().cpu(), y.detach().double().cpu()
        if x.numel() == 0:
            continue
        finite = torch.isfinite(y) & torch.isfinite(x)
        if not bool((torch.isfinite(x) == torch.isfinite(y)).all()):
            return float("inf"), False  # a NaN / inf on one device only
        if bool(finite.any()):
            diff = max(diff, float((x[finite] - y[finite]).abs().max()))
            scale = max(scale, float(y[finite].abs().max()))
    return diff, diff <= atol + rtol * scale


def metric_difference(metrics: Mapping[str, float], expected: Mapping[str, float]) -> float:
    """Largest relative difference (to ``expected``) over the metrics both report."""
    shared = [k for k in metrics if k in expected]
    return max((abs(metrics[k] - expected[k]) / max(abs(expected[k]), 1e-8) for k in shared), default=0.0)


def check_parity(
    task: Task,
    module: nn.Module,
    device: torch.device,
    amp: str | None = None,
    device_metrics: Mapping[str, float] | None = None,
    metrics: bool = True,
    cpu_copy: nn.Module | None = None,
    copy_device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Compare ``module`` on ``device`` with ``cpu_copy`` (default: a copy of it on ``copy_device``).

    Returns ``parity_max_abs_diff``, ``parity_tolerance`` (the bound it was held to),
    ``parity_metric_rel_diff`` (when metrics are compared) and ``parity_ok`` (1 or 0).
    """
    atol, rtol, mtol = TOLERANCE[amp]
    copy_at = torch.device(copy_device)
    if cpu_copy is None:
        cpu_copy = copy.deepcopy(module).to(copy_at)
    module.eval()
    cpu_copy.eval()
    batch = next(iter(task.eval_batches("test", PARITY_BATCH)))
    with torch.no_grad():
        with precision(RunOptions(amp=amp), device):  # type: ignore[arg-type]
            out = task.predict(module, to_device(batch, device))
        expected = task.predict(cpu_copy, to_device(batch, copy_at))
    diff, ok = compare_outputs(out, expected, atol, rtol)
    scale = max((float(t.detach().abs().max()) for t in tensors(expected) if t.numel()), default=0.0)
    result = {"parity_max_abs_diff": diff, "parity_tolerance": atol + rtol * scale}
    if metrics:
        if device_metrics is None:
            with precision(RunOptions(amp=amp), device):  # type: ignore[arg-type]
                device_metrics = task.evaluate(module, "test", device)
        copy_metrics = task.evaluate(cpu_copy, "test", copy_at)
        rel = metric_difference(device_metrics, copy_metrics)
        result["parity_metric_rel_diff"] = rel
        ok = ok and rel <= mtol
    result["parity_ok"] = float(ok)
    return result
