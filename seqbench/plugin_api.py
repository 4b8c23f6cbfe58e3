"""The plugin API version and the diagnostics a plugin author sees when a plugin is wrong.

A plugin may declare the API it was written against as a module-level (or plugin-object)
attribute ``SEQBENCH_API = "1"`` (or ``"1.0"``). seqbench loads it when the major numbers are
equal and the declared minor is not newer than its own (a minor adds to the API, a major
breaks it: the rule of semantic versioning); otherwise it is reported and skipped.
Undeclared means "written against whatever seqbench is installed" and is accepted.
"""

from __future__ import annotations

import difflib
import re
import sys
from typing import Any

PLUGIN_API: tuple[int, int] = (1, 0)
API_ATTRIBUTE = "SEQBENCH_API"
_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?$")


def declared_api(plugin: Any) -> object | None:
    """``SEQBENCH_API`` of the plugin object, else of the module that defines it."""
    value = getattr(plugin, API_ATTRIBUTE, None)
    if value is None:
        module = sys.modules.get(getattr(plugin, "__module__", "") or "")
        value = getattr(module, API_ATTRIBUTE, None) if module is not None else None
    return value


def api_problem(plugin: Any, host: tuple[int, int] = PLUGIN_API) -> str | None:
    """``None`` when the plugin's declared API is compatible with ``host``, else why not."""
    value = declared_api(plugin)
    if value is None:
        return None
    text = ".".join(map(str, value)) if isinstance(value, tuple) else str(value)
    match = _VERSION.match(text.strip())
    if not match:
        return f"{API_ATTRIBUTE} = {value!r} is not a version: expected \"MAJOR\" or \"MAJOR.MINOR\", e.g. \"1\""
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    have = f"{host[0]}.{host[1]}"
    if major != host[0]:
        return (f"incompatible plugin API: the plugin declares {API_ATTRIBUTE} = {text!r} (major {major}), "
                f"this seqbench provides {have}; install a seqbench {major}.x or a plugin release for API {host[0]}")
    if minor > host[1]:
        return (f"plugin needs plugin API {major}.{minor}, this seqbench provides {have}: upgrade seqbench")
    return None


def hook_suggestions(plugin: Any, hooks: list[str]) -> list[str]:
    """Messages for attributes of ``plugin`` that look like misspelled or unmarked hooks."""
    out: list[str] = []
    for attr in sorted(dir(plugin)):
        if attr.startswith("_") or not callable(getattr(plugin, attr, None)):
            continue
        marked = hasattr(getattr(plugin, attr), "seqbench_impl")
        if attr in hooks:
            if not marked:
                out.append(f"{attr} is not marked @seqbench.hookimpl, so it is never called")
            continue
        close = difflib.get_close_matches(attr, hooks, n=1, cutoff=0.8)
        if close and (marked or attr.startswith("seqbench_")):
            out.append(f"unknown hook {attr!r}: did you mean {close[0]!r}?")
        elif marked:
            out.append(f"unknown hook {attr!r} (seqbench hooks: {', '.join(hooks)})")
    return out
