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
from seqbench.plugin_api import api_problem, hook_suggestions
from seqbench.signatures import Signature
from seqbench.specs import PRESETS, MetricSpec, ModelSpec, TaskSpec

ENTRY_POINT_GROUP = "seqbench"
# Built-in plugins are listed, not found by scanning (as tox and datasette do): a helper module is
# never mistaken for a plugin, and a plugin module that fails to import is still named.
BUILTIN_PLUGINS = (
    *(f"seqbench_plugins.models.{m}" for m in (
        "rnn", "tcn", "transformer", "hmm", "ngram", "convrnn", "trajgru", "predrnn", "nowcast_baselines",
        "dcrnn", "stgcn", "traffic_baselines", "drnn", "seq2seq", "sim", "group_baselines", "rulstm",
        "anticipation_baselines",
    )),
    *(f"seqbench_plugins.tasks.{t}" for t in (
        "language", "nowcasting", "traffic", "trees", "group", "anticipation", "longmemory",
    )),
    "seqbench.reporters.leaderboard",
    "seqbench.reporters.pareto",
    "seqbench.reporters.html",
)
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("seqbench_"))
REGISTER_HOOKS = {"seqbench_register_models", "seqbench_register_tasks"}
NAME = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")
METRIC_NAME = re.compile(r"^[A-Za-z0-9_][^\s]*$")  # becomes a store column: no blanks
GOALS = ("min", "max")


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
    warnings: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return not self.errors or bool(self.models or self.tasks)

    def problems(self) -> str:
        """One line: every error, then every warning (empty when the plugin is fine)."""
        return "; ".join([*self.errors, *(f"warning: {w}" for w in self.warnings)])


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

    def plugin_name(self, kind: str, name: str) -> str:
        """The plugin that registered model or task ``name`` (``kind``: "model" or "task")."""
        return self.origin[f"{kind}:{name}"].name

    @property
    def failed(self) -> list[PluginRecord]:
        """Plugins that failed to load, or lost some of their specs to an error."""
        return [p for p in self.plugins if p.errors]


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
    if spec.config is not None:
        for preset in PRESETS:  # a config must serialise, or no job of the model could be planned
            try:
                spec.config_json(preset)
            except (TypeError, ValueError, KeyError) as exc:
                raise TypeError(f"model {spec.name!r}: config({preset!r}) must return a dataclass of "
                                f"JSON values: {exc}") from exc


def validate_task(spec: Any) -> None:
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"expected a seqbench.specs.TaskSpec, got {type(spec).__name__}")
    _validate_common(spec.name, spec.accepts, "accepts")
    if not spec.metrics:
        raise ValueError(f"task {spec.name!r}: declares no metrics")
    _validate_metrics(spec)
    missing = [p for p in PRESETS if p not in spec.budgets]
    if missing:
        raise ValueError(f"task {spec.name!r}: no budget for presets {missing}")
    if not callable(spec.build) or not callable(spec.available):
        raise TypeError(f"task {spec.name!r}: build and available must be callable")


def _validate_metrics(spec: TaskSpec) -> None:
    """Goals decide ranking direction: anything but "min"/"max" would rank silently wrong."""
    names: set[str] = set()
    for metric in spec.metrics:
        if not isinstance(metric, MetricSpec):
            raise TypeError(f"task {spec.name!r}: metrics must be MetricSpec, got {type(metric).__name__}")
        if metric.goal not in GOALS:
            raise ValueError(f"task {spec.name!r}: metric {metric.name!r} has goal {metric.goal!r}; "
                             f"expected \"min\" (lower is better) or \"max\" (higher is better)")
        if not isinstance(metric.name, str) or not METRIC_NAME.match(metric.name):
            raise ValueError(f"task {spec.name!r}: invalid metric name {metric.name!r}: "
                             "expected a non-empty name without spaces (e.g. mae@15min)")
        if metric.name in names:
            raise ValueError(f"task {spec.name!r}: metric {metric.name!r} declared twice")
        names.add(metric.name)


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
    """Register one plugin, or record why not (bad API version, unknown or misspelled hook)."""
    problem = api_problem(plugin)
    if problem:
        record.errors.append(problem)
        return False
    try:
        pm.register(plugin, name=record.name)
        pm.check_pending()
    except Exception as exc:
        if pm.is_registered(plugin):
            pm.unregister(plugin)
        hints = hook_suggestions(plugin, HOOKS)
        record.errors.append("; ".join(hints) if hints else f"{type(exc).__name__}: {exc}")
        return False
    if not pm.get_hookcallers(plugin):
        hints = hook_suggestions(plugin, HOOKS)
        record.warnings.append("registers nothing: no function marked @seqbench.hookimpl"
                               + (f" ({'; '.join(hints)})" if hints else ""))
    return True


def _collect(registry: Registry, records: dict[str, PluginRecord]) -> None:
    """Call each register hook once per plugin (pluggy's ``get_hookimpls``, so a plugin that
    raises loses only its own specs) and keep the valid, unique specs, in registration order
    (built-ins first: a third party never takes a built-in's name)."""
    order = {name: i for i, name in enumerate(records)}
    for hook, kind, store, validate in (
        ("seqbench_register_models", "model", registry.models, validate_model),
        ("seqbench_register_tasks", "task", registry.tasks, validate_task),
    ):
        impls = sorted(getattr(registry.pm.hook, hook).get_hookimpls(), key=lambda i: order[i.plugin_name])
        for impl in impls:
            record = records[impl.plugin_name]
            try:
                specs = list(impl.function() or [])
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


def _entry_point_plugins(registry: Registry) -> list[tuple[Any, PluginRecord]]:
    found: list[tuple[Any, PluginRecord]] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        record = PluginRecord(ep.name, "entry point", dist.name if dist else "", dist.version if dist else "", ep.value)
        registry.plugins.append(record)
        try:
            found.append((ep.load(), record))
        except Exception as exc:
            record.errors.append(f"failed to import {ep.value}: {type(exc).__name__}: {exc}")
    return found


def load_registry(include_entry_points: bool = True, extra: Iterable[tuple[Any, PluginRecord]] = ()) -> Registry:
    """Discover every plugin and return a fresh :class:`Registry`.

    ``extra``: further (plugin object, record) pairs registered after the entry points
    (``seqbench validate`` uses it for a module that is not installed).
    """
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
        candidates.extend(_entry_point_plugins(registry))
    for plugin, record in extra:
        registry.plugins.append(record)
        candidates.append((plugin, record))
    records: dict[str, PluginRecord] = {}
    for plugin, record in candidates:
        if record.name in records or pm.has_plugin(record.name):
            record.errors.append(f"plugin name {record.name!r} is already taken by another plugin")
            continue
        if _register(pm, plugin, record):
            records[record.name] = record
    _collect(registry, records)
    for name, record in records.items():
        _warn_if_empty(pm, name, record)
    return registry


def _warn_if_empty(pm: pluggy.PluginManager, name: str, record: PluginRecord) -> None:
    """A plugin whose only hooks are the register hooks and that registered no spec does nothing."""
    callers = {c.name for c in pm.get_hookcallers(pm.get_plugin(name)) or []}
    if callers and callers <= REGISTER_HOOKS and not (record.models or record.tasks or record.errors):
        record.warnings.append(f"registers nothing: {' and '.join(sorted(callers))} returned no spec")


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry (discovered once)."""
    return load_registry()


def get_plugin_manager() -> pluggy.PluginManager:
    return get_registry().pm


def _own_version() -> str:
    from seqbench import __version__

    return __version__
