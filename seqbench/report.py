"""Regenerate every report from the store through the reporter hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from seqbench.manager import Registry
from seqbench.store import Store


def results_frame(registry: Registry, store: Store) -> pd.DataFrame:
    """The store's rows plus what reporters need from the specs (primary metric, goal,
    unit, baseline flag); rows of plugins no longer installed keep empty spec columns."""
    frame = store.frame()
    if frame.empty:
        return frame
    tasks, models = registry.tasks, registry.models
    frame["primary"] = frame["task"].map(lambda t: tasks[t].primary.name if t in tasks else "")
    frame["goal"] = frame["task"].map(lambda t: tasks[t].primary.goal if t in tasks else "min")
    frame["unit"] = frame["task"].map(lambda t: tasks[t].unit if t in tasks else "units")
    frame["baseline"] = frame["model"].map(lambda m: bool(models[m].baseline) if m in models else False)
    frame["metric_order"] = frame["task"].map(
        lambda t: ",".join(m.name for m in tasks[t].metrics) if t in tasks else ""
    )
    envs = store.environments()
    frame["machine"] = [machine(envs.get(run, {}), device) for run, device in zip(frame["run_id"], frame["device"],
                                                                                   strict=True)]
    return frame


def machine(environment: dict[str, Any], device: str) -> str:
    """What a row was measured on, from its run's environment: speed figures of different
    machines do not compare, and hosts sharing a model name ("AMD EPYC") differ."""
    if device.startswith("cuda"):
        names = environment.get("cuda_devices") or ["CUDA device"]
        index = int(device.partition(":")[2] or 0)
        return str(names[index] if index < len(names) else names[0])
    cpu, cpu_id = environment.get("cpu", "CPU"), environment.get("cpu_id")
    return f"{cpu} ({cpu_id})" if cpu_id else str(cpu)


def write_reports(registry: Registry, store: Store, output: Path) -> list[Path]:
    frame = results_frame(registry, store)
    written: list[Path] = []
    for paths in registry.pm.hook.seqbench_write_reports(results=frame, output_dir=output):
        written.extend(paths or [])
    registry.pm.hook.seqbench_reports_written(paths=written, output_dir=output)
    return written
