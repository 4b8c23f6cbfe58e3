"""Plugin discovery: built-ins and the ``seqbench`` entry-point group, through one set of hooks.

Every plugin is loaded, called and validated on its own, so that a plugin that fails to
import, raises, returns something that is not a spec, or reuses a taken name is reported
(origin, distribution, version, entry point, error) and skipped, and all others still load.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any

import pluggy

from seqbench import hookspecs
from seqbench.signatures import Signature
from seqbench.specs import PRESETS, ModelSpec, TaskSpec

ENTRY_POINT_GROUP = "seqbench"
# Built-in plugins are listed, not found by scanning (as tox and datasette do): a helper module is
# never mistaken for a plugin, and a plugin module that fails to import is still named.
BUILTIN_PLUGINS = (
    *(f"seqbench_plugins.models.{m}" for m in (
        "rnn", "tcn", "transformer", "hmm", "ngram", "convrnn", "trajgru", "predrnn", "nowcast_baselines",
        "dcrnn", "stgcn", "traffic_baselines", "drnn",
        "rulstm", "anticipation_baselines",
    )),
    *(f"seqbench_plugins.tasks.{t}" for t in ("language", "nowcasting", "traffic", "trees", "anticipation")),
    "seqbench.reporters.leaderboard",
    "seqbench.reporters.pareto",
)
NAME = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")


@dataclass
class PluginRecord:
    """One discovered plugin and what became of it."""

    name: str
    origin: str  # "builtin" or "entry point"
    distribution: str = ""
    version: str = ""
    entry_point: str = ""
    models: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return not self.errors or bool(self.models or self.tasks)


@dataclass
class Registry:
    """Every valid model and task, by name, plus the record of every plugin."""

    pm: pluggy.PluginManager
    models: dict[str, ModelSpec] = field(default_factory=dict)
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    plugins: list[PluginRecord] = field(default_factory=list)
    origin: dict[str, PluginRecord] = field(default_factory=dict)

    def model(self, name: str) -> ModelSpec:
        return self.models[_check_name("model", name, self.models)]

    def task(self, name: str) -> TaskSpec:
        return self.tasks[_check_name("task", name, self.tasks)]


class UnknownName(KeyError):
    """A model or task name that is not registered (message includes suggestions)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _check_name(kind: str, name: str, known: Iterable[str]) -> str:
    known = list(known)
    if name in known:
        return name
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownName(f"unknown {kind} {name!r}{hint} (`seqbench list {kind}s` shows all {len(known)})")


def validate_model(spec: Any) -> None:
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"expected a seqbench.specs.ModelSpec, got {type(spec).__name__}")
    _validate_common(spec.name, spec.signatures, "signatures")
    if not callable(spec.build):
        raise TypeError(f"model {spec.name!r}: build is not callable")


def validate_task(spec: Any) -> None:
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"expected a seqbench.specs.TaskSpec, got {type(spec).__name__}")
    _validate_common(spec.name, spec.accepts, "accepts")
    if not spec.metrics:
        raise ValueError(f"task {spec.name!r}: declares no metrics")
    missing = [p for p in PRESETS if p not in spec.budgets]
    if missing:
        raise ValueError(f"task {spec.name!r}: no budget for presets {missing}")
    if not callable(spec.build) or not callable(spec.available):
        raise TypeError(f"task {spec.name!r}: build and available must be callable")


def _validate_common(name: Any, signatures: Any, field_name: str) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"invalid name {name!r}: expected lower-case letters, digits and _.+-")
    if not isinstance(signatures, tuple) or not signatures or not all(isinstance(s, Signature) for s in signatures):
        raise TypeError(f"{name!r}: {field_name} must be a non-empty tuple of Signature")


def _builtin_modules() -> list[tuple[str, Any, str | None]]:
    """(module name, module or None, import error) for every built-in plugin module."""
    found: list[tuple[str, Any, str | None]] = []
    for name in BUILTIN_PLUGINS:
        try:
            found.append((name, importlib.import_module(name), None))
        except Exception as exc:
            found.append((name, None, f"{type(exc).__name__}: {exc}"))
    return found


def _register(pm: pluggy.PluginManager, plugin: Any, record: PluginRecord) -> bool:
    try:
        pm.register(plugin, name=record.name)
        pm.check_pending()
        return True
    except Exception as exc:
        if pm.is_registered(plugin):
            pm.unregister(plugin)
        record.errors.append(f"{type(exc).__name__}: {exc}")
        return False


def _collect(registry: Registry, plugin: Any, record: PluginRecord) -> None:
    """Call this plugin's register hooks alone and keep its valid, unique specs."""
    for hook, kind, store, validate in (
        ("seqbench_register_models", "model", registry.models, validate_model),
        ("seqbench_register_tasks", "task", registry.tasks, validate_task),
    ):
        impl = getattr(plugin, hook, None)
        if impl is None:
            continue
        try:
            specs = list(impl() or [])
        except Exception as exc:
            record.errors.append(f"{hook} raised {type(exc).__name__}: {exc}")
            continue
        for spec in specs:
            try:
                validate(spec)
            except (TypeError, ValueError) as exc:
                record.errors.append(f"invalid {kind} spec: {exc}")
                continue
            if spec.name in store:
                owner = registry.origin[f"{kind}:{spec.name}"].name
                record.errors.append(f"duplicate {kind} name {spec.name!r} (already registered by {owner})")
                continue
            store[spec.name] = spec
            registry.origin[f"{kind}:{spec.name}"] = record
            (record.models if kind == "model" else record.tasks).append(spec.name)


def load_registry(include_entry_points: bool = True) -> Registry:
    """Discover every plugin and return a fresh :class:`Registry`."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm)
    candidates: list[tuple[Any, PluginRecord]] = []
    for name, module, error in _builtin_modules():
        record = PluginRecord(name, "builtin", "seqbench", _own_version())
        if error:
            record.errors.append(error)
        registry.plugins.append(record)
        if module is not None:
            candidates.append((module, record))
    if include_entry_points:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            record = PluginRecord(
                ep.name, "entry point", dist.name if dist else "", dist.version if dist else "", ep.value
            )
            registry.plugins.append(record)
            try:
                candidates.append((ep.load(), record))
            except Exception as exc:
                record.errors.append(f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
    for plugin, record in candidates:
        if _register(pm, plugin, record):
            _collect(registry, plugin, record)
    return registry


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry (discovered once)."""
    return load_registry()


def get_plugin_manager() -> pluggy.PluginManager:
    return get_registry().pm


def _own_version() -> str:
    from seqbench import __version__

    return __version__
