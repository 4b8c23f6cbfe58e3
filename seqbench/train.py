"""The one training loop shared by every (model, task) pair.

Same budget, optimizer, schedule and clipping for every model on a task; evaluation
over the whole test split; early stop on a non-finite loss (recorded as ``diverged``).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import cast

import torch
from torch import nn

from seqbench import measure
from seqbench.executors import gate
from seqbench.specs import CurvePoint, JobConfig, JobResult, ModelSpec, RunOptions, TaskContext, TaskSpec
from seqbench.task import Task, to_device
from seqbench.train_step import TrainStep, precision


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


def _allocation_failure(exc: BaseException) -> bool:
    """An allocation the job asked for and could not get (CPU or CUDA): its own ``oom``."""
    return isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _lr_factor(step: int, total: int) -> float:
    """Linear warm-up over 5% of the budget, then cosine decay to 10%."""
    warm = max(1, total // 20)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


CURVE_POINTS = 100  # learning-curve resolution: about this many training-loss points per job


def fit(task: Task, module: nn.Module, model: ModelSpec, config: JobConfig, device: torch.device,
        compiled: nn.Module | None = None, curve: list[CurvePoint] | None = None) -> dict[str, float]:
    """Train ``module`` on ``task`` within the budget; returns training measures.

    ``compiled`` is the module as it is called (``torch.compile``-d with ``--compile``; it
    shares ``module``'s parameters); checkpoints are taken from ``module`` itself. ``curve``,
    when given, receives the learning curve: the mean training loss every ``steps /
    CURVE_POINTS`` steps, and the validation primary metric at each validation check and at
    the end of training.
    """
    compiled = compiled if compiled is not None else module
    options = config.options
    budget = config.budget
    fit_baseline = getattr(module, "fit", None)
    if callable(fit_baseline):  # baselines fitted from one pass over the training split
        fit_baseline(to_device(b, device) for b in task.eval_batches("train", budget.eval_batch_size))
    params = [p for p in module.parameters() if p.requires_grad]
    if model.baseline or not params:
        return {"train_steps": 0.0, "train_seconds": 0.0}
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=budget.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, budget.steps))
    train_step = TrainStep(task, compiled, params, optimizer, options, device, budget.clip)
    generator = torch.Generator().manual_seed(config.seed)
    primary = task.spec.primary
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    start = time.perf_counter()
    steps = 0
    every = max(1, budget.steps // CURVE_POINTS)
    losses: list[float] = []  # since the last curve point
    evaluating = 0.0  # seconds spent on validation: the curve's clock counts training only
    module.train()
    for batch in task.train_batches(budget.batch_size, generator):
        if steps >= budget.steps or (budget.seconds and time.perf_counter() - start > budget.seconds):
            break
        loss = train_step(to_device(batch, device))
        value = loss.item()  # the finiteness check below synchronises anyway
        if not math.isfinite(value):
            raise Diverged(f"non-finite training loss {value} at step {steps}")
        schedule.step()
        steps += 1
        if steps == 1:
            gate.announce("first_step")  # the job's start-up ends here (issue 14's benchmark)
        losses.append(value)
        score: float | None = None
        if budget.eval_every and steps % budget.eval_every == 0:
            t = time.perf_counter()
            with precision(options, device):
                score = task.evaluate(compiled, "val", device)[primary.name]
            if best is None or primary.better(score, best[0]):
                best = (score, copy.deepcopy(module.state_dict()))
            module.train()
            evaluating += time.perf_counter() - t
        if curve is not None and (steps % every == 0 or score is not None):
            curve.append(CurvePoint(steps, time.perf_counter() - start - evaluating, sum(losses) / len(losses), score))
            losses = []
    seconds = time.perf_counter() - start
    if best is not None or (curve is not None and steps):
        with precision(options, device):
            final = task.evaluate(compiled, "val", device)[primary.name]
        if curve is not None:  # the curve ends with the validation score of the trained weights
            mean_loss = sum(losses) / len(losses) if losses else curve[-1].train_loss if curve else math.nan
            point = CurvePoint(steps, seconds - evaluating, mean_loss, final)
            curve[-1:] = [point] if curve and curve[-1].step == steps else [*curve[-1:], point]
        if best is not None and primary.better(best[0], final):  # keep the checkpoint validation prefers
            module.load_state_dict(best[1])
    return {"train_steps": float(steps), "train_seconds": seconds}


def _apply_options(options: RunOptions) -> Callable[[], None]:
    """Apply threads / determinism for this job; returns the undo (in-process runs share state)."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    cudnn_benchmark = torch.backends.cudnn.benchmark
    if options.threads:
        torch.set_num_threads(options.threads)
    if options.deterministic:
        # cuBLAS needs a fixed workspace to be deterministic; set before CUDA initialises.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False

    def undo() -> None:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.benchmark = cudnn_benchmark

    return undo


def run_job(
    config: JobConfig,
    model: ModelSpec,
    task_spec: TaskSpec,
    artifacts_dir: Path | None = None,
    peaks: Mapping[str, float] | None = None,
) -> JobResult:
    """Build, train, evaluate and measure one (model, task, device, seed) job in-process.

    ``peaks`` are the devices' peak FLOP/s the run measured once (keys from
    :func:`seqbench.measure.peak_key`); a peak it lacks is measured by the job itself.
    Failures inside the model or task become a non-``ok`` status, never an exception.
    """
    undo = _apply_options(config.options)
    measure.steady_allocator()  # no page faults for memory the job frees and allocates again
    try:
        options = config.options
        device = torch.device(config.device)
        task = task_spec.build(TaskContext(config.preset, dict(config.data)))
        torch.manual_seed(config.seed)
        module = task.build_module(model).to(device)
        measures = {"params": float(count_parameters(module))}
        # --compile: training, evaluation and timing all call the compiled module (it shares
        # the eager module's parameters); baselines fitted outside autograd stay eager.
        compiled = cast(nn.Module, torch.compile(module)) if options.compile and not model.baseline else module
        curve: list[CurvePoint] = []
        measures.update(fit(task, module, model, config, device, compiled, curve))
        module.eval()
        with precision(options, device):
            metrics = task.evaluate(compiled, "test", device)
        _check_metrics(task_spec, metrics)
        artifacts: list[str] = []
        if artifacts_dir is not None:
            # Preset and config hash in the name: jobs that differ only in preset or options share an
            # output folder, and one must not overwrite the other's pictures.
            label = f"{model.name}-{config.preset}-{config.device.replace(':', '')}-s{config.seed}-{config.hash()[:8]}"
            artifacts = [str(p) for p in task.save_artifacts(module, artifacts_dir, label)]
        if options.measure:
            measures.update(measure.measure_job(task, module, config, device, compiled, metrics, peaks))
        return JobResult("ok", "", metrics, measures, task.reference(), tuple(artifacts), curve=tuple(curve))
    except Diverged as exc:
        return JobResult("diverged", str(exc))
    except Exception as exc:
        import traceback

        text = "".join(traceback.format_exception(exc))
        if _allocation_failure(exc):
            return JobResult("oom", str(exc).strip().splitlines()[0], traceback=text)
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return JobResult("error", f"{type(exc).__name__}: {exc} ({Path(tb.filename).name}:{tb.lineno})",
                         traceback=text)
    finally:
        undo()


def _check_metrics(task_spec: TaskSpec, metrics: Mapping[str, float]) -> None:
    """Every declared metric reported, and finite (a non-finite one means the model diverged)."""
    missing = [m.name for m in task_spec.metrics if m.name not in metrics]
    if missing:
        raise KeyError(f"task {task_spec.name!r} did not report metrics {missing}")
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    if bad:
        raise Diverged(f"non-finite test metrics {bad}")
