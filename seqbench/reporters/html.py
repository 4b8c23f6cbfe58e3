"""The HTML report: one self-contained ``report.html`` from the store alone.

Per task: the ranked accuracy table (mean ± std over seeds, ties marked ``≈``), the throughput
table per device with the machine it was measured on, the accuracy-vs-throughput plot per
device, error by horizon where the metrics name horizons, the task's own pictures (its
artifacts, inline), learning curves, and sections other plugins add through
``seqbench_report_sections``. Then the environment of every run and every job that did not
finish, with its reason. No network is needed to view it: no scripts, fonts or images are
fetched; plots are inline SVG and pictures ``data:`` URIs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from seqbench import hookimpl
from seqbench.reporters import figures, pareto
from seqbench.reporters.html_parts import (
    artifacts,
    environment,
    esc,
    figure,
    generated,
    markdown_note,
    table,
    unfinished,
)
from seqbench.reporters.leaderboard import accuracy_table, throughput_table
from seqbench.reporters.markdown import accuracy_rows, measured_on, throughput_rows
from seqbench.results import ReportSection, Results
from seqbench.store import atomic_write

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
main{max-width:1320px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:28px;margin:8px 0 4px} h2{border-bottom:2px solid #d7dce3;padding-bottom:4px;margin-top:44px}
h3{margin:26px 0 8px;color:#38465a} .meta{color:#5b6676;font-size:13px}
nav{background:#fff;border:1px solid #d7dce3;border-radius:8px;padding:10px 16px;margin:16px 0}
nav a{margin-right:14px;white-space:nowrap;color:#1f5fbf;text-decoration:none}
table{border-collapse:collapse;background:#fff;margin:8px 0 14px;font-size:14px;display:block;overflow-x:auto;
max-width:100%;width:max-content}
th,td{padding:5px 10px;border-bottom:1px solid #e4e8ee;text-align:left;white-space:nowrap}
th{background:#eef1f5;position:sticky;top:0} td.num{text-align:right;font-variant-numeric:tabular-nums}
table.accuracy tbody tr:first-child td{font-weight:600} table.env td,table.jobs td{white-space:normal}
table.jobs td:last-child{max-width:620px;font-family:ui-monospace,monospace;font-size:12px}
.plots{display:flex;flex-wrap:wrap;gap:14px} figure{margin:0;background:#fff;border:1px solid #e4e8ee;
border-radius:8px;padding:8px} figure svg{max-width:100%;height:auto;display:block}
figcaption{font-size:12px;color:#5b6676;margin-top:4px} figure.artifact img{max-width:100%;display:block}
figure.plot svg{width:560px} .wide figure.plot svg{width:1100px} pre{font-size:12px;margin:0}
.missing{color:#a33}
"""


# The browser itself refuses anything from the network (and any script): the report stays
# self-contained even if a plugin's section links something.
CSP = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
       'style-src \'unsafe-inline\'">')


def _anchor(text: str) -> str:
    return "t-" + re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _task_sections(results: Results, accuracy: pd.DataFrame, throughput: pd.DataFrame,
                   extra: list[ReportSection], output_dir: Path) -> list[tuple[str, str]]:
    """(title, html) per (preset, task) that has ranked rows."""
    frame = results.frame
    ok = frame[(frame["status"] == "ok") & frame["task"].isin(list(results.tasks))] if not frame.empty else frame
    out = []
    for (preset, task), group in (accuracy.groupby(["preset", "task"], sort=True) if not accuracy.empty else []):
        meta = results.tasks[str(task)]
        rows = ok[(ok["preset"] == preset) & (ok["task"] == task)]
        note, headers, body = accuracy_rows(group, dict(meta.metric_units))
        parts = [f"<p>{markdown_note(note)}</p>", table(headers, body, numeric_from=3, css="accuracy")]
        tg = throughput[(throughput["preset"] == preset) & (throughput["task"] == task)] if not throughput.empty \
            else throughput
        plots = []
        for device, dg in (tg.groupby("device", sort=True) if not tg.empty else []):
            headers, body = throughput_rows(dg)
            parts += [f"<h3>throughput on {esc(device)}</h3>",
                      f"<p class=\"meta\">{esc(measured_on(frame[frame['device'] == device], preset, task))}</p>",
                      table(headers, body, numeric_from=2)]
            fig = pareto.figure(rows[rows["device"] == device], meta.primary, meta.goal,
                                f"{task}: accuracy vs throughput on {device}", str(device))
            if fig is not None:
                plots.append(figure(figures.svg(fig), f"{task} ({preset}) on {device}: models on the dashed "
                                    "Pareto front are beaten by no other model on both accuracy and speed."))
        fig = figures.by_horizon(rows, meta.metrics, meta.goal)
        if fig is not None:
            plots.append(figure(figures.svg(fig), f"{task}: error by forecast horizon (mean over seeds)"))
        if plots:
            parts += ["<h3>plots</h3>", f'<div class="plots">{"".join(plots)}</div>']
        pictures = artifacts(rows, output_dir / "artifacts" / str(task))
        if pictures:
            parts += ["<h3>predictions</h3>", f'<div class="plots">{"".join(pictures)}</div>']
        parts += _curves(results, rows, meta.primary, meta.goal, str(task))
        for section in extra:
            if section.task == task:
                parts += [f"<h3>{esc(section.title)}</h3>", section.html]
        out.append((f"{task} ({preset})", "\n".join(parts)))
    return out


def _curves(results: Results, rows: pd.DataFrame, primary: str, goal: str, task: str) -> list[str]:
    if results.curves.empty or rows.empty:
        return []
    points = results.curves.merge(rows[["attempt", "model", "seed", "device"]], on="attempt")
    parts = []
    for device, dp in points.groupby("device", sort=True):
        fig = figures.learning_curves(dp, primary, goal)
        if fig is not None:
            caption = f"{task} on {device}: learning curves, one line per seed"
            parts.append(f'<div class="wide">{figure(figures.svg(fig), caption)}</div>')
    return ["<h3>learning curves</h3>", *parts] if parts else []


def render(results: Results, extra: list[ReportSection], output_dir: Path) -> str:
    accuracy = accuracy_table(results) if not results.empty else pd.DataFrame()
    throughput = throughput_table(results) if not results.empty else pd.DataFrame()
    sections = _task_sections(results, accuracy, throughput, extra, output_dir)
    known = {title.rsplit(" (", 1)[0] for title, _ in sections}
    sections += [(s.title, s.html) for s in extra if s.task not in known]
    sections += [("environment", environment(results)), ("jobs that did not finish", unfinished(results))]
    nav = "".join(f'<a href="#{_anchor(title)}">{esc(title)}</a>' for title, _ in sections)
    body = "".join(f'<section id="{_anchor(t)}"><h2>{esc(t)}</h2>{h}</section>' for t, h in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>seqbench report</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">{CSP}<style>{STYLE}</style></head>'
            f'<body><main><h1>seqbench report</h1><p class="meta">Generated {esc(generated())} from the results '
            f"store by <code>seqbench report</code>; store state: {esc(results.state)}. Accuracy: mean ± std over "
            "seeds, rounded to the precision the spread supports; <strong>≈</strong> marks a rank the spread cannot "
            "separate from the model above; <strong>†</strong> a failed attempt after the ranked success.</p>"
            f"<nav>{nav}</nav>{body}</main></body></html>\n")


@hookimpl
def seqbench_write_reports(results: Results, output_dir: Path) -> list[Path]:
    extra = list(results.sections)
    path = output_dir / "report.html"
    with atomic_write(path) as handle:
        handle.write(render(results, extra, output_dir))
    return [path]
