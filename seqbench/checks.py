"""Contract checks for models and tasks: what ``seqbench.testing`` and ``seqbench validate`` run.

Each check raises :class:`CheckFailed` (an ``AssertionError``, so pytest shows it as a plain
failure) whose message names the model or task, what was expected and what was found.
The backbone checks test the ``CAUSAL_SEQ`` contract of :mod:`seqbench.signatures`; the
task checks test the :class:`~seqbench.task.Task` contract of :mod:`seqbench.task`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from seqbench.manager import validate_model, validate_task
from seqbench.signatures import PersonsProblem, SeqProblem
from seqbench.specs import ModelSpec, Preset, TaskSpec


class CheckFailed(AssertionError):
    """A plugin broke a seqbench contract; the message says which and how."""


def check_model_spec(spec: ModelSpec) -> None:
    """The spec is a valid :class:`ModelSpec` (name, signatures, callable build)."""
    try:
        validate_model(spec)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(str(exc)) from None


def check_task_spec(spec: TaskSpec) -> None:
    """The spec is a valid :class:`TaskSpec`: metrics with goal "min"/"max", a budget per preset."""
    try:
        validate_task(spec)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(str(exc)) from None


def _inputs(batch: int, steps: int, features: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, steps, features, generator=torch.Generator().manual_seed(seed))


def check_output_shape(module: nn.Module, input_size: int, name: str = "backbone", steps: int = 12) -> None:
    """``module(x: (B, T, F))`` is ``(B, T, module.output_size)``, as ``CAUSAL_SEQ`` requires."""
    width = getattr(module, "output_size", None)
    if not isinstance(width, int) or width < 1:
        raise CheckFailed(f"{name}: a CAUSAL_SEQ module must have an int attribute output_size >= 1, got {width!r}")
    with torch.no_grad():
        y = module(_inputs(3, steps, input_size, 0))
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (3, steps, width):
        found = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise CheckFailed(f"{name}: output of (B, T, F) = (3, {steps}, {input_size}) must be (B, T, output_size) "
                          f"= (3, {steps}, {width}), got {found}")


def check_causal(module: nn.Module, input_size: int, name: str = "backbone", steps: int = 12,
                 atol: float = 1e-5) -> None:
    """Outputs at t do not change when any input after t changes (tried at every cut t)."""
    x = _inputs(2, steps, input_size, 1)
    with torch.no_grad():
        y = module(x)
        for cut in range(steps - 1):
            changed = x.clone()
            changed[:, cut + 1:] = _inputs(2, steps - cut - 1, input_size, 100 + cut)
            diff = (module(changed)[:, : cut + 1] - y[:, : cut + 1]).abs()
            if float(diff.max()) > atol:
                t = int(diff.amax(dim=(0, 2)).nonzero()[0])
                raise CheckFailed(f"{name} is not causal: its output at t={t} changed by {float(diff.max()):.3g} "
                                  f"when only inputs at t>={cut + 1} changed (it sees the future)")


def check_step_matches_forward(module: nn.Module, input_size: int, name: str = "backbone", steps: int = 12,
                               atol: float = 1e-4) -> None:
    """``step(x_t, state)`` from ``state=None`` reproduces ``forward`` step by step (if defined)."""
    step = getattr(module, "step", None)
    if not callable(step):
        return
    x = _inputs(3, steps, input_size, 2)
    with torch.no_grad():
        y = module(x)
        state: Any = None
        for t in range(steps):
            out = step(x[:, t], state)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise CheckFailed(f"{name}: step(x_t, state) must return (y_t, state), got {type(out).__name__}")
            y_t, state = out
            if tuple(y_t.shape) != (3, y.shape[-1]):
                raise CheckFailed(f"{name}: step output must be (B, output_size) = (3, {y.shape[-1]}), "
                                  f"got {tuple(y_t.shape)}")
            diff = float((y_t - y[:, t]).abs().max())
            if diff > atol:
                raise CheckFailed(f"{name}: step() differs from forward() at t={t} by {diff:.3g}")


def check_backbone(spec: ModelSpec, preset: Preset = "smoke", input_size: int = 5) -> None:
    """Every ``CAUSAL_SEQ`` check on the model ``spec`` builds, in eval mode."""
    torch.manual_seed(0)
    module = spec.build(SeqProblem(input_size=input_size, max_len=16), preset).eval()
    check_output_shape(module, input_size, spec.name)
    check_causal(module, input_size, spec.name)
    check_step_matches_forward(module, input_size, spec.name)


def check_masking(module: nn.Module, problem: PersonsProblem, name: str = "model") -> None:
    """A ``PERSONS`` model ignores absent persons: changing the features of persons whose
    mask is False changes neither the present persons' logits nor the scene logits."""
    b, p = 2, problem.max_persons
    x = torch.randn(b, problem.steps, p, problem.feature_size, generator=torch.Generator().manual_seed(3))
    mask = torch.ones(b, p, dtype=torch.bool)
    mask[:, p // 2:] = False
    changed = x.clone()
    changed[:, :, p // 2:] = torch.randn(b, problem.steps, p - p // 2, problem.feature_size) * 10
    with torch.no_grad():
        person, scene = module(x, mask)
        person2, scene2 = module(changed, mask)
    for what, a, c in (("present persons' logits", person[:, : p // 2], person2[:, : p // 2]),
                       ("scene logits", scene, scene2)):
        diff = float((a - c).abs().max())
        if diff > 1e-5:
            raise CheckFailed(f"{name}: the {what} changed by {diff:.3g} when only masked-out persons changed")


def check_metrics(spec: TaskSpec, metrics: Mapping[str, Any], where: str = "evaluate") -> None:
    """``metrics`` has exactly the declared metric names, each a finite number."""
    declared = [m.name for m in spec.metrics]
    missing = [m for m in declared if m not in metrics]
    extra = [k for k in metrics if k not in declared]
    if missing or extra:
        parts = [f"missing declared {missing}" if missing else "", f"undeclared {extra}" if extra else ""]
        raise CheckFailed(f"task {spec.name!r}: {where} returned metrics {sorted(metrics)}; "
                          f"{' and '.join(p for p in parts if p)} (declared: {declared})")
    bad = {k: v for k, v in metrics.items() if not isinstance(v, (int, float)) or not math.isfinite(v)}
    if bad:
        raise CheckFailed(f"task {spec.name!r}: {where} returned non-finite or non-numeric metrics {bad}")
