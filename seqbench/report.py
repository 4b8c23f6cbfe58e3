"""Regenerate every report from the store through the reporter hooks."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from seqbench.errors import HarnessError
from seqbench.manager import Registry
from seqbench.results import ModelMeta, ReportSection, Results, TaskMeta
from seqbench.store import Store


def record_specs(registry: Registry, store: Store, recorded_by: str, tasks: set[str] | None = None,
                 models: set[str] | None = None, only_missing: bool = False) -> None:
    """Record the ranking metadata of ``tasks`` / ``models`` (all installed when ``None``)."""
    store.record_meta({n: TaskMeta.of(t) for n, t in registry.tasks.items() if tasks is None or n in tasks},
                      {n: ModelMeta.of(m) for n, m in registry.models.items() if models is None or n in models},
                      recorded_by, only_missing)


def results(store: Store, registry: Registry | None = None) -> Results:
    """The store's rows and ranking metadata. With a ``registry``, metadata the store lacks
    (stores migrated from schema version 1 never had it) is first filled in from the installed
    plugins and recorded, so from then on the store alone ranks."""
    attempts = store.attempts()
    if registry is not None and not attempts.empty:
        recorded, known = store.tasks(), store.models()
        if set(attempts["task"]) - set(recorded) or set(attempts["model"]) - set(known):
            record_specs(registry, store, "backfill", set(attempts["task"]) - set(recorded),
                         set(attempts["model"]) - set(known), only_missing=True)
    frame = store.frame()
    tasks = store.tasks()
    if not frame.empty:
        baselines = {name for name, meta in store.models().items() if meta.baseline}
        frame["baseline"] = frame["model"].isin(baselines)
        envs = store.environments()
        frame["machine"] = [machine(envs.get(run, {}), device)
                            for run, device in zip(frame["run_id"], frame["device"], strict=True)]
    present = set(frame["task"]) if not frame.empty else set()
    return Results(frame, attempts, {n: t for n, t in tasks.items() if n in present}, store.state(),
                   store.curves(), store.environments())


def machine(environment: dict[str, Any], device: str) -> str:
    """What a row was measured on, from its run's environment: speed figures of different
    machines do not compare, and hosts sharing a model name ("AMD EPYC") differ."""
    if device.startswith("cuda"):
        names = environment.get("cuda_devices") or ["CUDA device"]
        index = int(device.partition(":")[2] or 0)
        return str(names[index] if index < len(names) else names[0])
    cpu, cpu_id = environment.get("cpu", "CPU"), environment.get("cpu_id")
    return f"{cpu} ({cpu_id})" if cpu_id else str(cpu)


def report_sections(registry: Registry, data: Results) -> tuple[ReportSection, ...]:
    """Every plugin's ``seqbench_report_sections``, each on its own: a plugin whose hook raises
    or returns something else gets a section saying so and never stops the others."""
    sections: list[ReportSection] = []
    for impl in registry.pm.hook.seqbench_report_sections.get_hookimpls():
        name = registry.pm.get_name(impl.plugin) or repr(impl.plugin)
        try:
            returned: list[object] = list(cast(Iterable[object], impl.function(results=data) or []))
            bad = [s for s in returned if not isinstance(s, ReportSection)]
            if bad:
                raise TypeError(f"expected ReportSection values, got {type(bad[0]).__name__}")
            sections.extend(s for s in returned if isinstance(s, ReportSection))
        except Exception as exc:
            sections.append(ReportSection(f"section of plugin {name} left out",
                                          f"<p>seqbench_report_sections failed: {html.escape(repr(exc))}</p>"))
    return tuple(sections)


def write_reports(registry: Registry, store: Store, output: Path) -> list[Path]:
    data = results(store, registry)
    data = replace(data, sections=report_sections(registry, data))
    written: list[Path] = []
    try:
        for paths in registry.pm.hook.seqbench_write_reports(results=data, output_dir=output):
            written.extend(paths or [])
    except OSError as exc:
        name = exc.filename2 or exc.filename or output  # os.replace(tmp, target) names the target second
        raise HarnessError(f"{name}: cannot write a report ({exc.strerror or exc}); make room for a writable file "
                           "there or pass another --output") from exc
    registry.pm.hook.seqbench_reports_written(paths=written, output_dir=output)
    return written
