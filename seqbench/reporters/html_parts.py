"""Pieces of the HTML report: tables, inline images, the environment and unfinished jobs.

Everything is escaped and self-contained: pictures become ``data:`` URIs, plots inline SVG.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from seqbench.results import Results

MAX_IMAGE_BYTES = 2_000_000  # a bigger artifact is linked by name, not inlined


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 0, css: str = "") -> str:
    """An HTML table; columns from ``numeric_from`` on are right-aligned (numbers line up)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f'<td class="{"num" if numeric_from and i >= numeric_from else ""}">{esc(c)}</td>'
                        for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def markdown_note(text: str) -> str:
    """The leaderboard's one-line notes use ``**bold**``; the same in HTML."""
    parts = esc(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def figure(svg: str, caption: str) -> str:
    return f'<figure class="plot">{svg}<figcaption>{esc(caption)}</figcaption></figure>'


def inline_file(path: Path, caption: str) -> str:
    """An artifact inline: an image as a data URI, text in a ``<pre>``; a missing or
    oversized file is named, never fetched."""
    if not path.is_file():
        return f'<p class="missing">{esc(caption)}: {esc(path)} is gone (rerun to regenerate it)</p>'
    kind = mimetypes.guess_type(path.name)[0] or ""
    size = path.stat().st_size
    if kind.startswith("image/") and size <= MAX_IMAGE_BYTES:
        data = base64.b64encode(path.read_bytes()).decode()
        return (f'<figure class="artifact"><img alt="{esc(caption)}" src="data:{kind};base64,{data}">'
                f"<figcaption>{esc(caption)}</figcaption></figure>")
    if kind.startswith("text/") and size <= MAX_IMAGE_BYTES:
        return f"<figure class=\"artifact\"><pre>{esc(path.read_text(errors='replace'))}</pre>" \
               f"<figcaption>{esc(caption)}</figcaption></figure>"
    return f'<p class="missing">{esc(caption)}: {esc(path)} ({size:,} bytes, not inlined)</p>'


def artifacts(ok: pd.DataFrame, root: Path | None) -> list[str]:
    """The task's own pictures: per model and device, the artifacts of its lowest seed."""
    if "artifacts" not in ok:
        return []
    out = []
    for (model, device), group in ok.groupby(["model", "device"], sort=True):
        row = group.sort_values("seed").iloc[0]
        for name in row["artifacts"] or []:
            path = Path(name)
            if not path.exists() and root is not None:  # recorded relative to another working directory
                path = root / path.name
            out.append(inline_file(path, f"{model} on {device}, seed {row['seed']}: {path.name}"))
    return out


_ENV_FIELDS = (("machine", "cpu"), ("CPU id", "cpu_id"), ("CPU cores", "cpu_count"), ("threads", "threads"),
               ("GPUs", "cuda_devices"), ("platform", "platform"), ("python", "python"), ("torch", "torch"),
               ("CUDA", "cuda"), ("cuDNN", "cudnn"), ("numpy", "numpy"), ("seqbench", "seqbench"),
               ("commit", "git_commit"))


def environment(results: Results) -> str:
    """One column per run that has rows in the report: where and with what it ran."""
    runs = sorted(set(results.frame["run_id"])) if not results.frame.empty else []
    envs: Mapping[str, Mapping[str, Any]] = {r: results.environments.get(r, {}) for r in runs}
    if not runs:
        return "<p>No runs recorded.</p>"
    rows = [[label, *(_env_value(envs[r].get(key)) for r in runs)] for label, key in _ENV_FIELDS]
    plugins = [", ".join(f"{p.get('distribution')} {p.get('version')}" for p in envs[r].get("plugins", []))
               for r in runs]
    rows.append(["plugins", *(p or "–" for p in plugins)])
    jobs = results.frame.groupby("run_id").size()
    rows.insert(0, ["job configs ranked from it", *(str(jobs.get(r, 0)) for r in runs)])
    return table(["run", *runs], rows, css="env")


def _env_value(value: object) -> str:
    if value in (None, "", []):
        return "–"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def unfinished(results: Results) -> str:
    """Every job config whose ranked row is not ``ok``, and every failure after a success."""
    frame = results.frame
    if frame.empty:
        return "<p>No jobs.</p>"
    bad = frame[frame["status"] != "ok"]
    later = frame[frame["later_status"] != ""] if "later_status" in frame else frame.iloc[:0]
    rows = [[r["task"], r["model"], r["device"], str(r["seed"]), r["preset"], r["status"], str(r["message"])]
            for _, r in bad.iterrows()]
    rows += [[r["task"], r["model"], r["device"], str(r["seed"]), r["preset"], f"{r['later_status']} (after ok)",
              str(r["later_message"])] for _, r in later.iterrows()]
    if not rows:
        return "<p>Every job finished.</p>"
    return table(["task", "model", "device", "seed", "preset", "status", "reason"], rows, css="jobs")


def generated() -> str:
    return time.strftime("%Y-%m-%d %H:%M %Z")
