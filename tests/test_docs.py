"""docs/plugins.md is checked against the code it documents (as datasette's
test_plugin_hooks_are_documented): every hook and each of its arguments, the Budget defaults,
the default per-job time limits and the plugin API version."""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from seqbench import PLUGIN_API, hookspecs
from seqbench.cli import SEEDS, TIMEOUT
from seqbench.specs import Budget, ModelSpec, TaskSpec

DOC = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("seqbench_") and inspect.isfunction(f))


def _section(hook: str) -> str:
    """The text under the hook's own heading, up to the next heading."""
    match = re.search(rf"^###+ `{hook}\((.*?)\)`\n(.*?)(?=^#)", DOC, re.M | re.S)
    assert match, f"docs/plugins.md has no '### `{hook}(...)`' heading"
    return match.group(1) + "\n" + match.group(2)


def test_hooks_exist() -> None:
    assert {"seqbench_register_models", "seqbench_register_tasks"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook: str) -> None:
    section = _section(hook)
    heading_args = [a.strip() for a in section.splitlines()[0].split(",") if a.strip()]
    args = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert heading_args == args, f"{hook}: documented as ({', '.join(heading_args)}), defined as ({', '.join(args)})"
    for arg in args:
        assert f"`{arg}`" in section, f"{hook}: argument {arg!r} is not explained under its heading"


def _documented_signature(name: str) -> str:
    match = re.search(rf"\*\*`{name}\((.*?)\)`\*\*", DOC)
    assert match, f"docs/plugins.md does not show {name}(...)"
    return match.group(1)


def _default(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except ValueError:
        return text  # a function's name, e.g. always_available


@pytest.mark.parametrize("cls", [Budget, ModelSpec, TaskSpec])
def test_spec_signatures_and_defaults_are_documented(cls: type) -> None:
    shown = [item.strip().partition("=") for item in _documented_signature(cls.__name__).split(",")]
    assert [name for name, _, _ in shown] == [f.name for f in fields(cls)], f"{cls.__name__}: fields differ"
    for (name, has_default, text), f in zip(shown, fields(cls), strict=True):
        if f.default is MISSING:
            assert not has_default, f"{cls.__name__}.{name} has no default, docs show ={text}"
        else:
            expected = getattr(f.default, "__name__", f.default)
            message = f"{cls.__name__}.{name}: docs show {text!r}, the code has {expected!r}"
            assert has_default and _default(text) == expected, message


def test_run_defaults_are_documented() -> None:
    limits = f"{TIMEOUT['smoke']:.0f} s at `smoke`, {TIMEOUT['quick']:.0f} s at `quick` and {TIMEOUT['paper']:.0f} s"
    assert limits in DOC
    assert f"seeds {SEEDS['smoke']} at `smoke`, {SEEDS['quick']} at `quick`" in DOC
    assert f"`seqbench.PLUGIN_API` is the version of this contract, `{PLUGIN_API}` today" in DOC
