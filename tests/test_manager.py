"""Plugin discovery: broken third-party plugins are reported and skipped, never fatal."""

from __future__ import annotations

import subprocess
import sys

import pytest

from seqbench.manager import Registry, UnknownName, load_registry, validate_model, validate_task


def _record(registry: Registry, name: str):
    return next(p for p in registry.plugins if p.name == name)


def test_builtins_load_without_errors() -> None:
    registry = load_registry(include_entry_points=False)
    broken = {p.name: p.errors for p in registry.plugins if p.errors}
    assert not broken
    assert {"lstm", "gru", "rnn"} <= set(registry.models)


def test_every_registered_spec_is_valid() -> None:
    registry = load_registry()
    for spec in registry.models.values():
        validate_model(spec)
    for task in registry.tasks.values():
        validate_task(task)


def test_broken_plugins_are_reported_and_skipped(faulty_registry: Registry) -> None:
    reg = faulty_registry
    assert "faulty-crash" in reg.models and "faulty-fine" in reg.models  # the good one loads
    assert {"lstm", "gru"} <= set(reg.models)  # built-ins unaffected
    assert "registration exploded" in _record(reg, "faulty-raises").errors[0]
    invalid = _record(reg, "faulty-invalid").errors
    assert any("expected a seqbench.specs.ModelSpec, got dict" in e for e in invalid)
    assert any("invalid name 'Bad Name!'" in e for e in invalid)
    dup = _record(reg, "faulty-duplicate")
    assert "duplicate model name 'lstm'" in dup.errors[0] and "seqbench_plugins.models.rnn" in dup.errors[0]
    assert reg.origin["model:lstm"].origin == "builtin"
    assert "seqbench_no_such_hook" in _record(reg, "faulty-unknown-hook").errors[0]
    missing = _record(reg, "faulty-missing")
    assert "failed to import no_such_module_anywhere" in missing.errors[0]
    assert (missing.distribution, missing.version, missing.entry_point) == (
        "faulty-plugins", "0.3.1", "no_such_module_anywhere")


def test_plugins_command_lists_errors(faulty_site: object) -> None:
    out = subprocess.run([sys.executable, "-m", "seqbench.cli", "plugins"], capture_output=True, text=True, check=True)
    assert "faulty-raises" in out.stdout and "registration exploded" in out.stdout
    assert "faulty-plugins" in out.stdout and "0.3.1" in out.stdout
    assert "seqbench_plugins.models.rnn" in out.stdout


def test_unknown_names_suggest() -> None:
    registry = load_registry(include_entry_points=False)
    with pytest.raises(UnknownName, match="did you mean 'lstm'"):
        registry.model("lstn")
    with pytest.raises(UnknownName, match="unknown task 'zzzz'"):
        registry.task("zzzz")
