"""Environment capture, once per run: what every row of that run was measured on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Collection
from importlib import metadata
from pathlib import Path
from typing import Any

from seqbench import __version__
from seqbench.manager import Registry


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True,
                               timeout=5).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty elsewhere than Linux)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_id() -> str:
    """Vendor, family, model and the vector ISA PyTorch uses: cloud hosts sold under one model
    name ("AMD EPYC") differ in generation, and with it in speed (twice, for convolutions)."""
    import torch

    info = _cpuinfo()
    parts = [info.get("vendor_id", ""), *(f"{k} {info[k]}" for k in ("cpu family", "model") if k in info),
             torch.backends.cpu.get_cpu_capability()]
    return ", ".join(p for p in parts if p)


def device_peaks(cpu_threads: Collection[int] = ()) -> dict[str, float]:
    """Peak FLOP/s of each device here, measured once per run with a large matrix product
    (fp32 on the CPU at each thread count the run's jobs use, this process's by default;
    fp32, bf16 and fp16 on each CUDA device). The run hands them to each job (an argument
    of the executor), so a job reports FLOP/s as a fraction of peak without measuring it again."""
    import torch

    from seqbench import measure

    peaks: dict[str, float] = {}
    cpu = torch.device("cpu")
    own = torch.get_num_threads()
    try:
        for threads in sorted(set(cpu_threads) or {own}):
            torch.set_num_threads(threads)
            peaks[measure.peak_key(cpu, torch.float32)] = measure.measure_peak_flops(cpu)
    finally:
        torch.set_num_threads(own)
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        cuda = torch.device("cuda", i)
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            peaks[measure.peak_key(cuda, dtype)] = measure.measure_peak_flops(cuda, dtype)
    return peaks


def capture(registry: Registry, cpu_threads: Collection[int] = (), peaks: bool = True) -> dict[str, Any]:
    """What this run is measured on; ``peaks=False`` (no job measures throughput, e.g.
    ``--no-measure``) skips timing the devices' peak FLOP/s, which nothing would read."""
    import torch

    plugins = sorted({(p.distribution, p.version) for p in registry.plugins if p.distribution})
    cuda = torch.cuda.is_available()
    return {
        "seqbench": __version__,
        "git_commit": _git_commit(),
        "plugins": [{"distribution": d, "version": v} for d, v in plugins],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "",
        "cudnn": str(torch.backends.cudnn.version() or "") if cuda else "",
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "cpu": cpu_model(),
        "cpu_id": cpu_id(),
        "cpu_count": os.cpu_count() or 0,
        "threads": torch.get_num_threads(),
        "numpy": metadata.version("numpy"),
        "peak_flops": device_peaks(cpu_threads) if peaks else {},
    }
