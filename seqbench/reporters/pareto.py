"""Accuracy against throughput per task (PNG): the Pareto front is the answer most users want.

One figure per (preset, task, device): x = inference samples/s (log scale, median over
seeds), y = primary metric (mean over seeds, error bar = std). Models no other model beats
on both axes form the front, joined by a line. Pairs that failed the CPU–CUDA parity check
are drawn hollow and labelled ``(parity!)``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from seqbench import hookimpl
from seqbench.reporters.figures import pyplot
from seqbench.results import Results
from seqbench.store import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

X = "measure.infer_samples_per_s"


def pareto_front(points: pd.DataFrame, goal: str) -> list[str]:
    """Models not dominated: no other is at least as fast and at least as accurate, one strictly."""
    front = []
    for name, row in points.iterrows():
        dominated = False
        for other, o in points.iterrows():
            if other == name:
                continue
            better = o["y"] <= row["y"] if goal == "min" else o["y"] >= row["y"]
            strictly = o["x"] > row["x"] or (o["y"] < row["y"] if goal == "min" else o["y"] > row["y"])
            if o["x"] >= row["x"] and better and strictly:
                dominated = True
                break
        if not dominated:
            front.append(str(name))
    return front


def _points(group: pd.DataFrame, primary: str) -> pd.DataFrame:
    cols = {"x": (X, "median"), "y": (f"metric.{primary}", "mean"), "err": (f"metric.{primary}", "std")}
    if "measure.parity_ok" in group:
        cols["parity"] = ("measure.parity_ok", "min")
    points = group.groupby("model").agg(**cols).dropna(subset=["x", "y"])
    points["err"] = points["err"].fillna(0.0)
    return points


def figure(group: pd.DataFrame, primary: str, goal: str, title: str, device: str) -> Figure | None:
    """The accuracy-vs-throughput plot of one (preset, task, device) group of successful rows."""
    if f"metric.{primary}" not in group or X not in group:
        return None
    points = _points(group, primary)
    if points.empty:
        return None
    plt = pyplot()
    front = pareto_front(points, goal)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for i, (name, p) in enumerate(points.sort_values("x").iterrows()):
        failed = "parity" in p and p["parity"] == 0
        ax.errorbar(p["x"], p["y"], yerr=p["err"], fmt="o", mfc="none" if failed else None,
                    color="C3" if name in front else "C0", capsize=3)
        # neighbours along x alternate above and below their point, so close models stay legible
        ax.annotate(f"{name}{' (parity!)' if failed else ''}", (p["x"], p["y"]), textcoords="offset points",
                    xytext=(4, 5 if i % 2 == 0 else -11), fontsize=8)
    line = points.loc[front].sort_values("x")
    ax.plot(line["x"], line["y"], "--", color="C3", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel(f"inference samples/s on {device} (median over seeds)")
    ax.set_ylabel(f"{primary} ({'lower' if goal == 'min' else 'higher'} is better)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


@hookimpl
def seqbench_write_reports(results: Results, output_dir: Path) -> list[Path]:
    frame = results.frame
    if frame.empty or X not in frame:
        return []
    ok = frame[(frame["status"] == "ok") & frame["task"].isin(list(results.tasks))]
    written: list[Path] = []
    for (preset, task, device), group in ok.groupby(["preset", "task", "device"], sort=True):
        meta = results.tasks[str(task)]  # from the store: the direction the task had when it ran
        fig = figure(group, meta.primary, meta.goal, f"{task} ({preset}): accuracy vs throughput", str(device))
        if fig is None:
            continue
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        pyplot().close(fig)
        path = output_dir / "plots" / f"pareto-{preset}-{task}-{str(device).replace(':', '')}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as handle:
            handle.write(buffer.getvalue())
        written.append(path)
    return written
