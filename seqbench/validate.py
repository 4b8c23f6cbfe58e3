"""``seqbench validate [DIST|MODULE]``: load one plugin alone, check its contracts, run a
smoke job per pair with the built-ins and print a verdict (exit 0 pass, 1 fail, 2 bad target).

The target is an installed distribution (its ``seqbench`` entry points are loaded) or an
importable module, optionally ``module:attribute`` as in an entry point, so a plugin can be
validated before it is packaged. Other installed plugins are left out: a verdict depends on
the plugin and seqbench alone.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from seqbench.checks import check_backbone, check_metrics
from seqbench.manager import PluginRecord, Registry, load_registry
from seqbench.plan import pair_reason
from seqbench.signatures import CAUSAL_SEQ
from seqbench.task_checks import check_task
from seqbench.testing import run_pair


class BadTarget(ValueError):
    """The target is neither an installed distribution with seqbench entry points nor a module."""


@dataclass(frozen=True)
class Verdict:
    subject: str
    ok: bool
    message: str
    warning: bool = False

    def line(self) -> str:
        label = "WARN" if self.warning else ("ok" if self.ok else "FAIL")
        return f"  {label:<5} {self.subject}: {self.message}"


def _from_distribution(target: str) -> list[tuple[Any, PluginRecord]] | None:
    try:
        dist = metadata.distribution(target)
    except metadata.PackageNotFoundError:
        return None
    eps = [ep for ep in dist.entry_points if ep.group == "seqbench"]
    if not eps:
        raise BadTarget(f"distribution {target!r} {dist.version} declares no entry point in the 'seqbench' group; "
                        "add [project.entry-points.seqbench] to its pyproject.toml")
    found: list[tuple[Any, PluginRecord]] = []
    for ep in eps:
        record = PluginRecord(ep.name, "entry point", dist.metadata["Name"], dist.version, ep.value)
        try:
            found.append((ep.load(), record))
        except Exception as exc:
            found.append((None, record))
            record.errors.append(f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
    return found


def _from_module(target: str) -> list[tuple[Any, PluginRecord]]:
    module_name, _, attribute = target.partition(":")
    try:
        plugin: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise BadTarget(f"{target!r} is neither an installed distribution nor an importable module "
                            "(`pip list` shows distributions; a module must be on sys.path)") from None
        raise BadTarget(f"module {module_name!r} failed to import: {type(exc).__name__}: {exc}") from None
    if attribute:
        plugin = getattr(plugin, attribute, None)
        if plugin is None:
            raise BadTarget(f"module {module_name!r} has no attribute {attribute!r}")
    return [(plugin, PluginRecord(target, "module", entry_point=target))]


def load_target(target: str) -> tuple[Registry, list[PluginRecord]]:
    """A registry of the built-ins plus the target's plugin(s), and the target's records."""
    found = _from_distribution(target)
    if found is None:
        found = _from_module(target)
    loadable = [(p, r) for p, r in found if p is not None]
    registry = load_registry(include_entry_points=False, extra=loadable)
    for _, record in found:
        if record not in registry.plugins:
            registry.plugins.append(record)
    return registry, [r for _, r in found]


def _check(subject: str, passed: str, check: Callable[..., object], *args: object) -> Verdict:
    """Run ``check(*args)``: ``passed`` (or the string it returns) when it returns, else its error."""
    try:
        result = check(*args)
        return Verdict(subject, True, result if isinstance(result, str) else passed)
    except Exception as exc:
        return Verdict(subject, False, str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}")


def _job(registry: Registry, model: str, task: str) -> str:
    start = time.perf_counter()
    result = run_pair(model, task, "smoke", registry=registry)
    if result.status != "ok":
        raise AssertionError(f"smoke job {result.status}: {result.message}")
    check_metrics(registry.task(task), result.metrics, "the smoke job")
    primary = registry.task(task).primary.name
    return f"smoke job ok, {primary} = {result.metrics[primary]:.4g} ({time.perf_counter() - start:.1f}s)"


def validate(target: str, jobs: bool = True, log: Callable[[str], None] = print) -> list[Verdict]:
    """Check every spec the target registers; log one line per check as it finishes."""
    registry, records = load_target(target)
    verdicts: list[Verdict] = []

    def add(verdict: Verdict) -> None:
        verdicts.append(verdict)
        log(verdict.line())

    mine_models = [m for r in records for m in r.models]
    mine_tasks = [t for r in records for t in r.tasks]
    for record in records:
        origin = f"{record.distribution} {record.version}, " if record.distribution else ""
        add(Verdict(f"plugin {record.name}", not record.errors,
                    "; ".join(record.errors) or f"loaded ({origin}{len(record.models)} model(s), "
                    f"{len(record.tasks)} task(s))"))
        for warning in record.warnings:
            add(Verdict(f"plugin {record.name}", True, warning, warning=True))
    if not mine_models and not mine_tasks and all(not r.errors for r in records):
        add(Verdict(target, False, "registers no model and no task"))
    for name in mine_models:
        spec = registry.models[name]
        if CAUSAL_SEQ in spec.signatures:
            add(_check(f"model {name}", "output shape, causality, step == forward", check_backbone, spec))
    for name in mine_tasks:
        add(_check(f"task {name}", "problems, batches, metric names, whole-split scoring", check_task,
                   registry.tasks[name]))
    pairs = sorted({(m, t) for m in registry.models for t in registry.tasks if m in mine_models or t in mine_tasks})
    for model, task in pairs:
        if pair_reason(registry.models[model], registry.tasks[task], {}) is None and jobs:
            add(_check(f"{model} x {task}", "smoke job ok", _job, registry, model, task))
    return verdicts


def summary(verdicts: list[Verdict]) -> tuple[str, int]:
    """The verdict line and the exit status (0 every check passed, 1 some failed)."""
    failed = [v for v in verdicts if not v.ok]
    checks = sum(1 for v in verdicts if not v.warning)
    if failed:
        return f"verdict: FAIL ({len(failed)} of {checks} checks failed)", 1
    return f"verdict: PASS ({checks} checks)", 0
