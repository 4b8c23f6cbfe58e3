"""Specs and configs: the typed, frozen values that cross the plugin boundary."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from seqbench.signatures import Signature

if TYPE_CHECKING:
    import torch

    from seqbench.task import Task

Preset = Literal["smoke", "quick", "paper"]
PRESETS: tuple[Preset, ...] = ("smoke", "quick", "paper")
# How a job ended: ``ok``; ``error`` (an exception in the model or task); ``diverged`` (a non-finite
# loss or metric); ``oom``; ``timeout``; ``crashed`` (the worker died); ``killed`` (SIGKILL from
# outside, not the kernel's OOM killer); ``interrupted`` (the run was stopped); ``skipped`` (never run).
Status = Literal["ok", "error", "diverged", "oom", "timeout", "crashed", "killed", "interrupted", "skipped"]


@dataclass(frozen=True)
class Budget:
    """Training budget of one task at one preset; identical for every model on the task.

    Training stops at ``steps`` optimizer steps or after ``seconds`` of training,
    whichever comes first (``seconds=None``: steps only, which is reproducible).
    """

    steps: int
    batch_size: int
    lr: float = 1e-3
    seconds: float | None = None
    clip: float = 1.0
    weight_decay: float = 0.0
    eval_batch_size: int = 256
    eval_every: int = 0  # steps between validation checks (0: only at the end)


@dataclass(frozen=True)
class MetricSpec:
    """One metric a task reports. ``goal`` says which direction is better."""

    name: str
    goal: Literal["min", "max"]
    description: str = ""
    unit: str = ""  # shown in table headers, e.g. "mph", "%", "nats"; "" for unitless scores

    def better(self, a: float, b: float) -> bool:
        return a < b if self.goal == "min" else a > b


@dataclass(frozen=True)
class ModelSpec:
    """A model plugin.

    ``build(problem, preset)`` returns an ``nn.Module`` for the problem dataclass of one
    of ``signatures`` (see :mod:`seqbench.signatures`), sized for the preset.
    A *baseline* has no trainable parameters or is fitted by its own ``fit(batches)``
    method (called with one pass over the training split) instead of gradient steps.
    """

    name: str
    signatures: tuple[Signature, ...]
    build: Callable[[Any, Preset], torch.nn.Module]
    summary: str
    paper: str = ""
    baseline: bool = False
    lr: float | None = None  # overrides the task's learning rate, recorded in the config
    tags: tuple[str, ...] = ()
    config: Callable[[Preset], Any] | None = None  # the model's config dataclass per preset, recorded per job

    def config_json(self, preset: Preset) -> str:
        """``config(preset)`` as sorted JSON (``""`` without one): ``JobConfig.model_config``."""
        return "" if self.config is None else json.dumps(asdict(self.config(preset)), sort_keys=True)


def always_available(data: Mapping[str, str]) -> str | None:
    """Default availability check: no external data needed."""
    return None


@dataclass(frozen=True)
class TaskSpec:
    """A task plugin.

    ``build(context)`` constructs the task (data, adapters, metrics) inside the job's own
    process. ``accepts`` lists the model signatures it can pair with, in order of
    preference. ``metrics[0]`` is the primary metric. ``available(data)`` returns ``None``
    or the reason the task cannot run (e.g. a dataset directory that was not given).
    ``data_keys`` names every ``--data KEY=PATH`` key the task reads (shown by ``seqbench
    list tasks``; a key no task declares is refused as a typo).
    """

    name: str
    accepts: tuple[Signature, ...]
    build: Callable[[TaskContext], Task]
    summary: str
    metrics: tuple[MetricSpec, ...]
    unit: str  # the task's natural throughput unit: "tokens", "frames", ...
    budgets: Mapping[Preset, Budget]
    family: str = ""
    paper: str = ""
    available: Callable[[Mapping[str, str]], str | None] = always_available
    data_keys: tuple[str, ...] = ()

    @property
    def primary(self) -> MetricSpec:
        return self.metrics[0]


@dataclass(frozen=True)
class TaskContext:
    """What a task builder receives. ``data`` maps dataset keys to user-given paths."""

    preset: Preset
    data: Mapping[str, str] = field(default_factory=dict)
    data_seed: int = 0


@dataclass(frozen=True)
class RunOptions:
    """Options that change how jobs run; part of every job's config hash."""

    threads: int | None = None
    compile: bool = False
    amp: Literal["bf16", "fp16"] | None = None
    deterministic: bool = False
    measure: bool = True


@dataclass(frozen=True)
class JobConfig:
    """Everything that determines one job's result."""

    model: str
    task: str
    device: str
    seed: int
    preset: Preset
    budget: Budget
    lr: float
    options: RunOptions = RunOptions()
    data: tuple[tuple[str, str], ...] = ()
    model_config: str = ""  # JSON of the model's config (ModelSpec.config), "" when it declares none

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # Left out when empty, so that the hashes of models without a config stay what they were.
        model_config = d.pop("model_config")
        if model_config:
            d["model_config"] = json.loads(model_config)
        return d

    def hash(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CurvePoint:
    """One point of a job's learning curve: after ``step`` optimiser steps and ``seconds`` of
    training, the mean training loss since the previous point and, where the loop evaluated
    the validation split there, its primary metric (``None`` elsewhere)."""

    step: int
    seconds: float
    train_loss: float
    val_metric: float | None = None


@dataclass(frozen=True)
class JobResult:
    """What one job produced, sent from its worker process to the store as one row.

    ``metrics``: the test metrics (every ``MetricSpec`` name of the task); ``measures``:
    speed and cost figures (:mod:`seqbench.measure`); ``reference``: the best possible value
    per metric where the task knows it (``Task.reference``); ``artifacts``: files written;
    ``traceback``: the full traceback of a failure inside the job (empty otherwise);
    ``curve``: the learning curve of the training loop (empty for fitted baselines). Frozen:
    a step that adds to a result makes a new one (``dataclasses.replace``).
    """

    status: Status
    message: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    measures: Mapping[str, float] = field(default_factory=dict)
    reference: Mapping[str, float] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()
    traceback: str = ""
    curve: tuple[CurvePoint, ...] = ()
