"""The one training loop shared by every (model, task) pair.

Same budget, optimizer, schedule and clipping for every model on a task; evaluation
over the whole test split; early stop on a non-finite loss (recorded as ``diverged``).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from seqbench import measure
from seqbench.specs import JobConfig, ModelSpec, TaskContext, TaskSpec
from seqbench.task import Task, to_device

Status = Literal["ok", "error", "diverged", "oom", "timeout", "crashed", "skipped"]


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass
class JobResult:
    """What one job produced; stored as one row."""

    status: Status
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    measures: dict[str, float] = field(default_factory=dict)
    reference: dict[str, float] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _lr_factor(step: int, total: int) -> float:
    """Linear warm-up over 5% of the budget, then cosine decay to 10%."""
    warm = max(1, total // 20)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def fit(task: Task, module: nn.Module, model: ModelSpec, config: JobConfig, device: torch.device) -> dict[str, float]:
    """Train ``module`` on ``task`` within the budget; returns training measures."""
    budget = config.budget
    fit_baseline = getattr(module, "fit", None)
    if callable(fit_baseline):  # baselines fitted from one pass over the training split
        fit_baseline(to_device(b, device) for b in task.eval_batches("train", budget.eval_batch_size))
    params = [p for p in module.parameters() if p.requires_grad]
    if model.baseline or not params:
        return {"train_steps": 0.0, "train_seconds": 0.0}
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=budget.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, budget.steps))
    generator = torch.Generator().manual_seed(config.seed)
    primary = task.spec.primary
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    start = time.perf_counter()
    steps = 0
    module.train()
    for batch in task.train_batches(budget.batch_size, generator):
        if steps >= budget.steps or (budget.seconds and time.perf_counter() - start > budget.seconds):
            break
        loss = task.loss(module, to_device(batch, device))
        if not torch.isfinite(loss):
            raise Diverged(f"non-finite training loss {loss.item()} at step {steps}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, budget.clip)
        optimizer.step()
        schedule.step()
        steps += 1
        if budget.eval_every and steps % budget.eval_every == 0:
            score = task.evaluate(module, "val", device)[primary.name]
            if best is None or primary.better(score, best[0]):
                best = (score, copy.deepcopy(module.state_dict()))
            module.train()
    seconds = time.perf_counter() - start
    if best is not None:  # keep the checkpoint the validation split prefers
        final = task.evaluate(module, "val", device)[primary.name]
        if primary.better(best[0], final):
            module.load_state_dict(best[1])
    return {"train_steps": float(steps), "train_seconds": seconds}


def run_job(
    config: JobConfig,
    model: ModelSpec,
    task_spec: TaskSpec,
    artifacts_dir: Path | None = None,
) -> JobResult:
    """Build, train, evaluate and measure one (model, task, device, seed) job in-process.

    Failures inside the model or task become a non-``ok`` status, never an exception.
    """
    try:
        if config.options.threads:
            torch.set_num_threads(config.options.threads)
        if config.options.deterministic:
            torch.use_deterministic_algorithms(True)
        device = torch.device(config.device)
        task = task_spec.build(TaskContext(config.preset, dict(config.data)))
        torch.manual_seed(config.seed)
        module = task.build_module(model).to(device)
        measures = {"params": float(count_parameters(module))}
        measures.update(fit(task, module, model, config, device))
        module.eval()
        metrics = task.evaluate(module, "test", device)
        missing = [m.name for m in task_spec.metrics if m.name not in metrics]
        if missing:
            raise KeyError(f"task {task_spec.name!r} did not report metrics {missing}")
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            raise Diverged(f"non-finite test metrics {bad}")
        artifacts: list[str] = []
        if artifacts_dir is not None:
            label = f"{model.name}-{config.device.replace(':', '')}-s{config.seed}"
            artifacts = [str(p) for p in task.save_artifacts(module, artifacts_dir, label)]
        if config.options.measure:
            measures.update(measure.measure_job(task, module, config, device))
        return JobResult("ok", "", metrics, measures, task.reference(), artifacts)
    except Diverged as exc:
        return JobResult("diverged", str(exc))
    except torch.OutOfMemoryError as exc:
        return JobResult("oom", str(exc).splitlines()[0])
    except Exception as exc:
        import traceback

        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return JobResult("error", f"{type(exc).__name__}: {exc} ({Path(tb.filename).name}:{tb.lineno})")
