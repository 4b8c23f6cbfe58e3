"""Plan a run: models x tasks x devices x seeds -> jobs, plus skipped pairs with a reason.

Compatibility is data: a pair runs when the model implements a signature the task
accepts, the task's data is available and the device is present.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from seqbench.manager import Registry, _check_name
from seqbench.signatures import Signature
from seqbench.specs import JobConfig, ModelSpec, Preset, RunOptions, TaskSpec


@dataclass(frozen=True)
class Skipped:
    """A job (or a whole pair when ``device``/``seed`` are None) that will not run."""

    model: str
    task: str
    reason: str
    device: str | None = None
    seed: int | None = None
    config: JobConfig | None = None  # set for device-level skips, which are recorded as rows


@dataclass(frozen=True)
class Plan:
    jobs: tuple[JobConfig, ...]
    skipped: tuple[Skipped, ...]


def shared_signature(model: ModelSpec, task: TaskSpec) -> Signature | None:
    """The signature through which ``model`` would run on ``task`` (task's preference)."""
    return next((s for s in task.accepts if s in model.signatures), None)


def pair_reason(model: ModelSpec, task: TaskSpec, data: Mapping[str, str]) -> str | None:
    """``None`` when the pair can run, else why not."""
    if shared_signature(model, task) is None:
        return (
            f"no shared signature: model implements {', '.join(map(str, model.signatures))}; "
            f"task accepts {', '.join(map(str, task.accepts))}"
        )
    return task.available(data)


def device_reason(device: str) -> str | None:
    """``None`` when ``device`` is usable in this environment, else why not."""
    import torch

    if device == "cpu":
        return None
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return "CUDA is not available (no GPU or a CPU-only torch build)"
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            return f"{device} not present ({torch.cuda.device_count()} CUDA device(s))"
        return None
    return f"unknown device {device!r}: expected cpu, cuda, cuda:N or auto"


def parse_devices(text: str) -> list[str]:
    """``"auto"`` -> cuda if present else cpu; comma lists kept in order."""
    import torch

    out: list[str] = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if item == "auto":
            item = "cuda" if torch.cuda.is_available() else "cpu"
        if item != "cpu" and not item.startswith("cuda"):
            raise ValueError(f"unknown device {item!r}: expected cpu, cuda, cuda:N or auto")
        if item.startswith("cuda:") and not item[5:].isdigit():
            raise ValueError(f"bad CUDA device {item!r}: expected cuda:N with N a number")
        if item not in out:
            out.append(item)
    if not out:
        raise ValueError("no device given: expected cpu, cuda, cuda:N or auto")
    return out


def select(patterns: Sequence[str] | None, known: Iterable[str], kind: str) -> list[str]:
    """Names matching any of ``patterns`` (exact names or globs); all when ``None``."""
    names = sorted(known)
    if not patterns:
        return names
    chosen: list[str] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            hits = fnmatch.filter(names, pattern)
            if not hits:
                raise ValueError(f"{kind} pattern {pattern!r} matches nothing; known: {', '.join(names)}")
        else:
            hits = [_check_name(kind, pattern, names)]
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def make_plan(
    registry: Registry,
    models: Sequence[str] | None,
    tasks: Sequence[str] | None,
    devices: Sequence[str],
    seeds: Sequence[int],
    preset: Preset,
    options: RunOptions | None = None,
    data: Mapping[str, str] | None = None,
) -> Plan:
    data = dict(data or {})
    options = options or RunOptions()
    jobs: list[JobConfig] = []
    skipped: list[Skipped] = []
    device_reasons = {d: device_reason(d) for d in devices}
    model_names = select(models, registry.models, "model")
    for task_name in select(tasks, registry.tasks, "task"):
        task = registry.tasks[task_name]
        for model_name in model_names:
            model = registry.models[model_name]
            reason = pair_reason(model, task, data)
            if reason:
                skipped.append(Skipped(model_name, task_name, reason))
                continue
            budget = task.budgets[preset]
            for device in devices:
                for seed in seeds:
                    job = JobConfig(model_name, task_name, device, seed, preset, budget, model.lr or budget.lr,
                                    options, tuple(sorted(data.items())), model.config_json(preset))
                    reason = device_reasons[device]
                    if reason:
                        skipped.append(Skipped(model_name, task_name, reason, device, seed, job))
                    else:
                        jobs.append(job)
    return Plan(tuple(jobs), tuple(skipped))
