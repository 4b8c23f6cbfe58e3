"""Throughput, latency, memory and FLOPs of one trained job: the measurement part of seqbench.

Rules (DESIGN.md section 4): warm-up calls are never timed; timed *blocks* of calls repeat
until a minimum measuring time, the way ``torch.utils.benchmark.Timer.blocked_autorange``
does, and the median block rate and its interquartile range are reported; train (forward,
backward, clipping, optimizer step: exactly the training loop's step) and inference are
timed separately. On CUDA every timed region ends with ``torch.cuda.synchronize``, so no
asynchronous launch is ever timed instead of the work. Jobs run one at a time, each in its
own process (executors/local.py), so no other job shares the device while one is timed.

FLOPs come from PyTorch's own ``FlopCounterMode`` (matrix products, convolutions,
attention), plus the fused recurrent kernels it has no formula for. Achieved FLOP/s is
given as a fraction of the device's peak, measured with a large matrix product once per
run (:func:`measure_peak_flops`); the run hands those peaks to its jobs as an argument.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import math
import resource
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from seqbench import parity
from seqbench.executors.gate import measurement_window
from seqbench.specs import JobConfig, RunOptions
from seqbench.task import Task, to_device
from seqbench.train_step import TrainStep, precision

MIN_TIME = {"smoke": 0.04, "quick": 1.0, "paper": 2.0}  # seconds of timed blocks, train and inference each
LATENCY_TIME = {"smoke": 0.03, "quick": 0.5, "paper": 1.0}  # seconds of batch-1 calls
STREAM_STEPS = {"smoke": 16, "quick": 256, "paper": 1024}  # streaming steps timed (after as many warm-up steps)
BLOCKS = 20  # blocks per minimum measuring time: enough for a median that ignores slow outliers
MIN_BLOCKS = {"smoke": 3, "quick": 7, "paper": 7}
_MEASURED_PEAKS: dict[str, float] = {}  # peaks this process measured itself, by peak_key


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


@functools.cache
def steady_allocator() -> bool:
    """Make glibc's malloc keep freed memory in this process (True if it did).

    PyTorch's CPU tensors come from malloc. By default glibc gives large blocks back to the
    kernel as soon as they are freed (mmap'd blocks, and trimming the heap's top), so every
    training step pays tens of thousands of page faults to get them back: measured on
    lstm x lm-hmm, blocks with 60,000 faults ran at 443 samples/s, blocks with none at 590.
    Keeping the memory (the peak resident set hardly changes: it is the same live tensors)
    makes the steady state what is timed. Elsewhere than glibc, nothing is changed.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30) and mallopt(_M_MMAP_THRESHOLD, 1 << 25))  # 32 MiB: glibc's max


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_blocks(fn: Callable[[], object], device: torch.device, min_time: float, warmup: int = 2,
                min_blocks: int = 5) -> list[float]:
    """Seconds per call of ``fn``, one value per timed block, warm-up and calibration excluded.

    The last of the ``warmup`` calls (never counted) calibrates the block size so a block
    lasts about ``min_time / BLOCKS`` (timer resolution and loop overhead then vanish), and
    blocks repeat until ``min_time`` is spent and at least ``min_blocks`` were timed. The
    garbage collector is paused meanwhile (as ``timeit`` does), so a collection triggered by
    the harness's own objects never lands inside a block.
    """
    with _gc_paused():
        return _time_blocks(fn, device, min_time, warmup, min_blocks)


@contextmanager
def _gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _time_blocks(fn: Callable[[], object], device: torch.device, min_time: float, warmup: int,
                 min_blocks: int) -> list[float]:
    for _ in range(max(warmup - 1, 0)):
        fn()
    sync(device)
    start = time.perf_counter()  # the last warm-up call calibrates the block size
    fn()
    sync(device)
    single = time.perf_counter() - start
    number = max(1, int(min_time / BLOCKS / max(single, 1e-9)))
    per_call: list[float] = []
    spent = 0.0
    while spent < min_time or len(per_call) < min_blocks:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        sync(device)
        elapsed = time.perf_counter() - start
        per_call.append(elapsed / number)
        spent += elapsed
    return per_call


def time_calls(fn: Callable[[], object], device: torch.device, min_time: float, warmup: int = 2,
               min_calls: int = 5, max_calls: int = 10_000) -> list[float]:
    """Seconds of each single call (latency), each call synchronised, warm-up excluded."""
    with _gc_paused():
        return _time_calls(fn, device, min_time, warmup, min_calls, max_calls)


def _time_calls(fn: Callable[[], object], device: torch.device, min_time: float, warmup: int, min_calls: int,
                max_calls: int) -> list[float]:
    for _ in range(warmup):
        fn()
    sync(device)
    out: list[float] = []
    spent = 0.0
    while (spent < min_time or len(out) < min_calls) and len(out) < max_calls:
        start = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - start)
        spent += out[-1]
    return out


def rate(per_call: list[float], amount: float) -> tuple[float, float]:
    """Median and interquartile range of ``amount / seconds`` over blocks."""
    rates = sorted(amount / t for t in per_call)
    q = statistics.quantiles(rates, n=4, method="inclusive") if len(rates) > 1 else [rates[0]] * 3
    return statistics.median(rates), q[2] - q[0]


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated ``p``-th percentile (0..100)."""
    data = sorted(values)
    k = (len(data) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


# -- FLOPs --------------------------------------------------------------------------------
def _rnn_flops(input_shape: Any, weights: list[Any]) -> int:
    """2 x rows x cols per 2-D weight matrix per (batch, time) position: the gate products."""
    positions = math.prod(input_shape) // input_shape[-1]
    return sum(2 * positions * w[0] * w[1] for w in weights if w is not None and len(w) == 2)


def _mkldnn_rnn(input: Any, w0: Any, w1: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return _rnn_flops(input, [w0, w1])


def _mkldnn_rnn_backward(input: Any, w1: Any, w2: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return 2 * _rnn_flops(input, [w1, w2])  # gradients of inputs and of weights: twice the forward


def _cudnn_rnn(input: Any, weights: list[Any], *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return _rnn_flops(input, list(weights))


def _cudnn_rnn_backward(input: Any, weights: list[Any], *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return 2 * _rnn_flops(input, list(weights))


def _rnn_formulas() -> dict[Any, Callable[..., int]]:
    aten = torch.ops.aten
    table: dict[str, Callable[..., int]] = {
        "mkldnn_rnn_layer": _mkldnn_rnn, "mkldnn_rnn_layer_backward": _mkldnn_rnn_backward,
        "_cudnn_rnn": _cudnn_rnn, "_cudnn_rnn_backward": _cudnn_rnn_backward,
    }
    return {getattr(aten, name): fn for name, fn in table.items() if hasattr(aten, name)}  # keyed by packet


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` as PyTorch's FlopCounterMode counts them (+ fused RNNs)."""
    with FlopCounterMode(display=False, custom_mapping=_rnn_formulas()) as counter:
        fn()
    return int(counter.get_total_flops())


# -- device peak -------------------------------------------------------------------------
def peak_key(device: torch.device, dtype: torch.dtype) -> str:
    where = f"cpu/threads={torch.get_num_threads()}" if device.type == "cpu" else str(device)
    return f"{where}/{str(dtype).removeprefix('torch.')}"


def measure_peak_flops(device: torch.device, dtype: torch.dtype = torch.float32, size: int | None = None,
                       min_time: float = 0.15) -> float:
    """FLOP/s of the fastest timed block of a large square matrix product on ``device``.

    On the CPU two libraries multiply matrices: MKL (``torch.mm``) and oneDNN, which runs
    the convolutions and fused RNNs the models use. They need not agree: MKL picks its code
    path by CPU vendor and takes AVX2 on AMD, oneDNN picks by instruction set and uses
    AVX-512. On the project's AMD EPYC (Zen 4) MKL reached 72-88 GFLOP/s on one thread and
    oneDNN 102-106, and on a faster host convolution jobs ran at 1.47x an MKL-only "peak".
    So the CPU peak is the faster of the two.
    """
    n = size or (8192 if device.type == "cuda" else 1024)
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=gen)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=gen)
    c = torch.empty(n, n, device=device, dtype=dtype)
    calls: list[Callable[[], object]] = [lambda: torch.mm(a, b, out=c)]
    if device.type == "cpu" and dtype == torch.float32 and torch.backends.mkldnn.is_available():
        a_dnn = a.to_mkldnn()
        calls.append(lambda: torch._C._nn.mkldnn_linear(a_dnn, b, None))  # a @ b.T through oneDNN
    return max(2 * n**3 / min(time_blocks(call, device, min_time, warmup=2, min_blocks=3)) for call in calls)


def peak_flops(device: torch.device, dtype: torch.dtype = torch.float32,
               peaks: Mapping[str, float] | None = None) -> float:
    """The device's peak for ``dtype``: from ``peaks`` (the run's, keyed by :func:`peak_key`),
    else measured once in this process."""
    key = peak_key(device, dtype)
    if peaks is not None and key in peaks:
        return float(peaks[key])
    if key not in _MEASURED_PEAKS:
        _MEASURED_PEAKS[key] = measure_peak_flops(device, dtype)
    return _MEASURED_PEAKS[key]


# -- the job ------------------------------------------------------------------------------
def _first(batches: Iterator[Any]) -> Any:
    return next(iter(batches))


def _seq_len(batch: Any) -> int | None:
    """Length of the time axis (dim 1) of the batch's first tensor, where it has one."""
    items = [batch] if isinstance(batch, torch.Tensor) else list(batch) if isinstance(batch, (tuple, list)) else []
    first = next((t for t in items if isinstance(t, torch.Tensor)), None)
    return int(first.shape[1]) if first is not None and first.dim() >= 2 else None


def streaming_module(module: nn.Module) -> nn.Module | None:
    """The first submodule with a streaming ``step(x_t, state)`` (CAUSAL_SEQ contract)."""
    return next((m for m in module.modules() if callable(getattr(m, "step", None))), None)


def stream_latency(task: Task, module: nn.Module, batch1: Any, device: torch.device, steps: int,
                   precision: AbstractContextManager[Any]) -> list[float] | None:
    """Seconds per ``step`` call, fed the streaming module's real inputs for one example."""
    streamer = streaming_module(module)
    if streamer is None:
        return None
    seen: list[torch.Tensor] = []
    handle = streamer.register_forward_pre_hook(lambda _m, args: seen.append(args[0]) if args else None)
    try:
        with torch.no_grad(), precision:
            task.predict(module, batch1)
    finally:
        handle.remove()
    if not seen or not isinstance(seen[0], torch.Tensor) or seen[0].dim() != 3:
        return None
    x = seen[0][:1]
    n = min(steps, x.shape[1])
    step: Callable[..., tuple[torch.Tensor, Any]] = streamer.step  # type: ignore[assignment]
    out: list[float] = []
    with torch.no_grad(), precision:
        for timed in (False, True):  # one untimed pass warms every kernel and allocation up
            state = None
            for t in range(n):
                sync(device)
                start = time.perf_counter()
                _, state = step(x[:, t], state)
                sync(device)
                if timed:
                    out.append(time.perf_counter() - start)
    return out


@dataclass(frozen=True)
class Bench:
    """What every timing step of one job shares: the trained job and one training batch."""

    task: Task
    module: nn.Module  # eager: FLOPs, parity, streaming
    compiled: nn.Module  # as the job calls it (``torch.compile``-d with ``--compile``): timed
    config: JobConfig
    device: torch.device
    batch: Any  # one training batch, on the device
    samples: int
    units: int

    @property
    def options(self) -> RunOptions:
        return self.config.options

    @property
    def warmup(self) -> int:
        return 3 if self.compiled is not self.module else 2  # the first compiled call compiles: never timed

    def precision(self) -> AbstractContextManager[object]:
        return precision(self.options, self.device)


def describe(bench: Bench) -> dict[str, float]:
    """What was timed: batch size, threads, units per sample, compilation, precision, length."""
    amp = bench.options.amp if bench.device.type == "cuda" else None
    out = {"batch_size": float(bench.samples), "threads": float(torch.get_num_threads()),
           "units_per_sample": bench.units / max(bench.samples, 1),
           "compiled": float(bench.compiled is not bench.module),
           "amp": {None: 0.0, "bf16": 16.0, "fp16": 16.1}[amp]}
    seq_len = _seq_len(bench.batch)
    if seq_len is not None:
        out["seq_len"] = float(seq_len)
    return out


def inference_throughput(bench: Bench) -> dict[str, float]:
    """Samples and units per second of ``predict`` on the training batch, in eval mode."""
    preset = bench.config.preset
    bench.module.eval()
    with torch.no_grad(), bench.precision():
        per_call = time_blocks(lambda: bench.task.predict(bench.compiled, bench.batch), bench.device,
                               MIN_TIME[preset], bench.warmup, MIN_BLOCKS[preset])
    out: dict[str, float] = {"timed_blocks": float(len(per_call))}
    out["infer_samples_per_s"], out["infer_samples_per_s_iqr"] = rate(per_call, bench.samples)
    out["infer_units_per_s"], out["infer_units_per_s_iqr"] = rate(per_call, bench.units)
    return out


def latency(bench: Bench) -> dict[str, float]:
    """Batch-1 latency of ``predict`` and, where the model streams, of one ``step`` call."""
    preset = bench.config.preset
    batch1 = to_device(_first(bench.task.eval_batches("test", 1)), bench.device)
    with torch.no_grad(), bench.precision():
        lat = time_calls(lambda: bench.task.predict(bench.compiled, batch1), bench.device, LATENCY_TIME[preset],
                         bench.warmup)
    out = {"latency_p50_ms": percentile(lat, 50) * 1e3, "latency_p95_ms": percentile(lat, 95) * 1e3}
    try:
        steps = stream_latency(bench.task, bench.module, batch1, bench.device, STREAM_STEPS[preset],
                               bench.precision())
    except Exception:  # a ``step`` that does not follow the CAUSAL_SEQ contract: no streaming figure
        steps = None
    if steps:
        out["step_latency_p50_ms"] = percentile(steps, 50) * 1e3
        out["step_latency_p95_ms"] = percentile(steps, 95) * 1e3
    return out


def inference_flops(bench: Bench) -> dict[str, float]:
    """FLOPs per sample of ``predict`` (eager module, the run's precision, autograd off)."""
    try:
        with torch.no_grad(), bench.precision():
            fwd = count_flops(lambda: bench.task.predict(bench.module, bench.batch))
    except Exception:  # an operator FlopCounterMode cannot trace: no FLOP figure, not a failed job
        fwd = 0
    return {"flops_per_sample": fwd / bench.samples} if fwd else {}


def training(bench: Bench) -> dict[str, float]:
    """FLOPs per sample and throughput of the training step; the weights are left as found."""
    module = bench.module
    trainable = [p for p in module.parameters() if p.requires_grad]
    if not trainable:
        return {}
    out: dict[str, float] = {}
    saved = {k: v.detach().clone() for k, v in module.state_dict().items()}  # timing must not move weights
    module.train()
    try:
        with bench.precision():
            train_flops = count_flops(lambda: bench.task.loss(module, bench.batch).backward())
    except Exception:
        train_flops = 0
    module.zero_grad(set_to_none=True)
    if train_flops:
        out["train_flops_per_sample"] = train_flops / bench.samples
    optimizer = torch.optim.Adam(trainable, lr=bench.config.lr)
    step = TrainStep(bench.task, bench.compiled, trainable, optimizer, bench.options, bench.device,
                     bench.config.budget.clip)
    preset = bench.config.preset
    per_call = time_blocks(lambda: step(bench.batch), bench.device, MIN_TIME[preset], bench.warmup,
                           MIN_BLOCKS[preset])
    out["train_samples_per_s"], out["train_samples_per_s_iqr"] = rate(per_call, bench.samples)
    out["train_units_per_s"], out["train_units_per_s_iqr"] = rate(per_call, bench.units)
    module.load_state_dict(saved)
    module.zero_grad(set_to_none=True)
    module.eval()
    return out


def peak_fractions(bench: Bench, out: Mapping[str, float], peaks: Mapping[str, float] | None) -> dict[str, float]:
    """Achieved FLOP/s per phase as a fraction of the device's peak for the precision used."""
    if "flops_per_sample" not in out and "train_flops_per_sample" not in out:
        return {}
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(bench.options.amp or "", torch.float32)
    dtype = dtype if bench.device.type == "cuda" else torch.float32
    peak = peak_flops(bench.device, dtype, peaks)
    achieved = {phase: out[key] * out[f"{phase}_samples_per_s"]
                for phase, key in (("infer", "flops_per_sample"), ("train", "train_flops_per_sample"))
                if key in out and f"{phase}_samples_per_s" in out}
    result: dict[str, float] = {}
    if achieved and max(achieved.values()) > peak:
        # Faster than the run's peak: that peak was measured while something else loaded
        # the device. Measure it again here, under this job's conditions, and say so.
        peak = max(peak, measure_peak_flops(bench.device, dtype))
        result["device_peak_remeasured"] = 1.0
    result["device_peak_flops"] = peak
    for phase, flops_per_s in achieved.items():
        result[f"{phase}_flops_per_s"] = flops_per_s
        result[f"{phase}_peak_fraction"] = flops_per_s / peak
    return result


def memory_and_parity(bench: Bench, test_metrics: Mapping[str, float] | None) -> dict[str, float]:
    """Peak memory; on CUDA also the CPU-CUDA parity check (:mod:`seqbench.parity`)."""
    if bench.device.type != "cuda":  # peak resident set of this job's own process (Linux reports KiB)
        return {"peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    out = {"peak_memory_mb": torch.cuda.max_memory_allocated(bench.device) / 2**20}
    out.update(parity.check_parity(bench.task, bench.module, bench.device, bench.options.amp, test_metrics,
                                   metrics=bench.config.preset != "paper"))
    return out


def measure_job(task: Task, module: nn.Module, config: JobConfig, device: torch.device,
                compiled: nn.Module | None = None, test_metrics: Mapping[str, float] | None = None,
                peaks: Mapping[str, float] | None = None) -> dict[str, float]:
    """Every speed and cost figure of a trained job.

    ``module`` is the eager module (FLOPs, parity, streaming); ``compiled`` the module as the
    job calls it (``torch.compile``-d with ``--compile``), which is what gets timed; ``peaks``
    the run's measured device peaks (:func:`peak_flops`).
    """
    steady_allocator()  # the run_job process did it already; here for callers that measure in-process
    generator = torch.Generator().manual_seed(config.seed)
    batch = to_device(_first(task.train_batches(config.budget.batch_size, generator)), device)
    samples, units = task.count(batch)
    bench = Bench(task, module, compiled if compiled is not None else module, config, device, batch, samples, units)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    out = describe(bench)
    with measurement_window():  # no other job computes on this machine while this one is timed
        out.update(inference_throughput(bench))
        out.update(latency(bench))
        out.update(training(bench))
    out.update(inference_flops(bench))  # counted, not timed
    out.update(peak_fractions(bench, out, peaks))
    out.update(memory_and_parity(bench, test_metrics))
    return out
