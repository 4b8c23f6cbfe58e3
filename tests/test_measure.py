"""Unit tests of the measurement part: timing blocks, latency, FLOPs, device peak, parity, run options."""

from __future__ import annotations

import gc
import math
import platform
import time

import pytest
import torch
from torch import nn

from seqbench import measure, parity
from seqbench.manager import get_registry
from seqbench.specs import JobConfig, RunOptions, TaskContext
from seqbench.testing import run_pair
from seqbench.train import run_job

CPU = torch.device("cpu")


def test_time_blocks_excludes_warmup_and_meets_minimums() -> None:
    calls: list[float] = []

    def fn() -> None:
        time.sleep(0.05 if not calls else 0.001)  # a slow first (cold) call must never be timed
        calls.append(time.perf_counter())

    per_call = measure.time_blocks(fn, CPU, min_time=0.02, warmup=2, min_blocks=4)
    assert len(per_call) >= 4
    assert max(per_call) < 0.04
    median, iqr = measure.rate(per_call, 10)
    assert 10 / 0.04 < median < 10 / 0.0009 and iqr >= 0


def test_timing_pauses_the_garbage_collector_and_restores_it() -> None:
    seen: list[bool] = []
    assert gc.isenabled()
    measure.time_blocks(lambda: seen.append(gc.isenabled()), CPU, min_time=0.0, min_blocks=2)
    measure.time_calls(lambda: seen.append(gc.isenabled()), CPU, min_time=0.0, min_calls=2)
    assert seen and not any(seen) and gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        measure.time_blocks(lambda: 1 / 0, CPU, min_time=0.0)
    assert gc.isenabled()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt tuning applies to glibc only")
def test_steady_allocator_applies_on_glibc() -> None:
    assert measure.steady_allocator() is True


def test_time_calls_and_percentiles() -> None:
    lat = measure.time_calls(lambda: None, CPU, min_time=0.0, min_calls=7)
    assert len(lat) == 7 and all(t >= 0 for t in lat)
    values = [float(v) for v in range(1, 101)]
    assert measure.percentile(values, 50) == pytest.approx(50.5)
    assert measure.percentile(values, 95) == pytest.approx(95.05)
    assert measure.rate([0.5], 1) == (2.0, 0.0)


def test_flops_count_linear_and_fused_recurrent() -> None:
    linear = nn.Linear(8, 16)
    assert measure.count_flops(lambda: linear(torch.randn(4, 8))) == 2 * 4 * 8 * 16
    lstm = nn.LSTM(32, 64, num_layers=2, batch_first=True)
    x = torch.randn(4, 20, 32)
    expected = 2 * 4 * 20 * 4 * 64 * ((32 + 64) + (64 + 64))  # gate products, both layers
    with torch.no_grad():
        assert measure.count_flops(lambda: lstm(x)) == expected  # FlopCounterMode alone counts 0 here
    fb = measure.count_flops(lambda: lstm(x)[0].sum().backward())
    assert fb == 3 * expected


def test_jobs_take_the_run_peak_and_measure_one_they_lack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measure, "_MEASURED_PEAKS", {})
    key = measure.peak_key(CPU, torch.float32)
    assert measure.peak_flops(CPU, peaks={key: 1.5e9}) == 1.5e9  # the run's figure, passed as an argument
    monkeypatch.setattr(measure, "measure_peak_flops", lambda device, dtype=torch.float32: 2.5e9)
    assert measure.peak_flops(CPU, peaks={"cuda:0/float32": 1.0}) == 2.5e9  # not the run's: measured here
    assert measure._MEASURED_PEAKS == {key: 2.5e9}


def test_measure_peak_flops_is_a_plausible_rate() -> None:
    assert measure.measure_peak_flops(CPU, size=128, min_time=0.01) > 1e6


def test_cpu_peak_is_the_faster_of_mkl_and_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Convolutions and fused RNNs run in oneDNN, which can outrun MKL's torch.mm: the peak
    must be the faster library's, else jobs report fractions of peak above 1."""
    timed: list[str] = []

    def fake_blocks(fn: object, device: object, min_time: float, warmup: int = 2, min_blocks: int = 5) -> list[float]:
        name = "onednn" if "mkldnn_linear" in fn.__code__.co_names else "mm"  # type: ignore[attr-defined]
        timed.append(name)
        return [2.0 if name == "mm" else 1.0]

    monkeypatch.setattr(measure, "time_blocks", fake_blocks)
    peak = measure.measure_peak_flops(CPU, size=8)
    if torch.backends.mkldnn.is_available():
        assert timed == ["mm", "onednn"] and peak == 2 * 8**3 / 1.0
    else:
        assert timed == ["mm"] and peak == 2 * 8**3 / 2.0


def test_run_measures_the_cpu_peak_at_the_jobs_thread_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    from seqbench import environment

    seen: list[int] = []
    monkeypatch.setattr(measure, "measure_peak_flops", lambda device, dtype=torch.float32: seen.append(
        torch.get_num_threads()) or 1e9)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    own = torch.get_num_threads()
    peaks = environment.device_peaks({1, 2})
    assert seen == [1, 2] and torch.get_num_threads() == own
    assert set(peaks) == {"cpu/threads=1/float32", "cpu/threads=2/float32"}


def _lm_task() -> tuple[object, nn.Module]:
    registry = get_registry()
    task = registry.task("lm-hmm").build(TaskContext("smoke"))
    torch.manual_seed(0)
    return task, task.build_module(registry.model("lstm"))


def test_parity_same_device_passes_and_injected_mismatch_fails() -> None:
    task, module = _lm_task()
    ok = parity.check_parity(task, module, CPU)  # type: ignore[arg-type]
    assert ok["parity_ok"] == 1.0 and ok["parity_max_abs_diff"] == 0.0 and ok["parity_metric_rel_diff"] == 0.0
    import copy

    wrong = copy.deepcopy(module)
    with torch.no_grad():
        next(wrong.parameters()).add_(0.5)
    bad = parity.check_parity(task, module, CPU, cpu_copy=wrong, metrics=False)  # type: ignore[arg-type]
    assert bad["parity_ok"] == 0.0 and bad["parity_max_abs_diff"] > bad["parity_tolerance"]


def test_compare_outputs_rejects_nan_on_one_side_and_shape_mismatch() -> None:
    a = torch.ones(3)
    assert parity.compare_outputs((a, {"x": a}), (a, {"x": a}), 1e-3, 1e-2) == (0.0, True)
    assert parity.compare_outputs(torch.tensor([1.0, math.nan]), torch.tensor([1.0, 1.0]), 1e-3, 1e-2)[1] is False
    assert parity.compare_outputs(torch.ones(2), torch.ones(3), 1e-3, 1e-2)[1] is False
    assert parity.compare_outputs(a + 1e-4, a, 1e-3, 1e-2)[1] is True
    assert parity.metric_difference({"m": 1.01, "only": 5.0}, {"m": 1.0}) == pytest.approx(0.01)


def test_measure_job_reports_every_figure_and_leaves_weights_alone() -> None:
    task, module = _lm_task()
    registry = get_registry()
    spec = registry.task("lm-hmm")
    budget = spec.budgets["smoke"]
    config = JobConfig("lstm", "lm-hmm", "cpu", 0, "smoke", budget, budget.lr)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    start = time.perf_counter()
    out = measure.measure_job(task, module, config, CPU)  # type: ignore[arg-type]
    assert time.perf_counter() - start < 10  # well under a second on an idle machine
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    for key in ("infer_samples_per_s", "infer_units_per_s", "train_samples_per_s", "train_samples_per_s_iqr",
                "latency_p50_ms", "latency_p95_ms", "step_latency_p50_ms", "flops_per_sample",
                "train_flops_per_sample", "train_peak_fraction", "peak_memory_mb", "batch_size", "seq_len", "threads"):
        assert key in out and math.isfinite(out[key]), key
    assert out["infer_units_per_s"] == pytest.approx(out["infer_samples_per_s"] * out["units_per_sample"])
    assert out["latency_p95_ms"] >= out["latency_p50_ms"]
    assert out["train_flops_per_sample"] > out["flops_per_sample"] > 0


def test_a_peak_below_the_achieved_rate_is_measured_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's peak measured under load can be lower than a job then achieves: the job re-measures."""
    peaks = {measure.peak_key(CPU, torch.float32): 1.0}  # 1 FLOP/s: surely beaten
    task, module = _lm_task()
    budget = get_registry().task("lm-hmm").budgets["smoke"]
    out = measure.measure_job(task, module, JobConfig("lstm", "lm-hmm", "cpu", 0, "smoke", budget, budget.lr),
                              CPU, peaks=peaks)  # type: ignore[arg-type]
    assert out["device_peak_remeasured"] == 1.0 and out["device_peak_flops"] > 1e6
    assert out["train_peak_fraction"] == pytest.approx(out["train_flops_per_s"] / out["device_peak_flops"])


def test_run_job_reports_against_the_peak_it_is_given() -> None:
    """The run measures each device's peak once and hands it to every job as an argument."""
    registry = get_registry()
    spec = registry.task("lm-hmm")
    budget = spec.budgets["smoke"]
    config = JobConfig("gru", "lm-hmm", "cpu", 0, "smoke", budget, budget.lr, RunOptions(threads=1))
    peaks = {"cpu/threads=1/float32": 1e15}  # far above anything a CPU reaches: never re-measured
    result = run_job(config, registry.model("gru"), spec, peaks=peaks)
    assert result.status == "ok", result.message
    assert result.measures["device_peak_flops"] == 1e15 and "device_peak_remeasured" not in result.measures


def test_run_options_are_applied_recorded_and_undone() -> None:
    registry = get_registry()
    spec = registry.task("lm-hmm")
    budget = spec.budgets["smoke"]
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    options = RunOptions(threads=1, deterministic=True, amp="bf16")  # amp is CUDA-only: ignored on the CPU
    config = JobConfig("gru", "lm-hmm", "cpu", 0, "smoke", budget, budget.lr, options)
    result = run_job(config, registry.model("gru"), spec)
    assert result.status == "ok", result.message
    assert result.measures["threads"] == 1.0 and result.measures["amp"] == 0.0
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert run_pair("gru", "lm-hmm").metrics == pytest.approx(result.metrics)  # options never change fp32 results


@pytest.mark.slow
def test_compile_applies_to_training_and_timing() -> None:
    registry = get_registry()
    spec = registry.task("lm-hmm")
    budget = spec.budgets["smoke"]
    config = JobConfig("gru", "lm-hmm", "cpu", 0, "smoke", budget, budget.lr, RunOptions(compile=True))
    result = run_job(config, registry.model("gru"), spec)
    assert result.status == "ok", result.message
    assert result.measures["compiled"] == 1.0


def test_pareto_front_and_png(tmp_path: object) -> None:
    import pandas as pd

    from seqbench.reporters import pareto

    points = pd.DataFrame({"x": [10.0, 100.0, 50.0], "y": [1.0, 2.0, 3.0]}, index=["slow-good", "fast-ok", "bad"])
    assert sorted(pareto.pareto_front(points, "min")) == ["fast-ok", "slow-good"]
    rows = pd.DataFrame({"model": ["a", "b"], "task": "t", "device": "cpu", "preset": "smoke", "status": "ok",
                         "metric.mse": [1.0, 2.0],
                         "measure.infer_samples_per_s": [5.0, 50.0], "measure.parity_ok": [1.0, 0.0]})
    from pathlib import Path

    from seqbench.results import Results, TaskMeta

    results = Results(rows, rows, {"t": TaskMeta("t", "mse", (("mse", "min"),), "frames")})
    paths = pareto.seqbench_write_reports(results, Path(str(tmp_path)))
    assert len(paths) == 1 and paths[0].read_bytes()[:4] == b"\x89PNG"
