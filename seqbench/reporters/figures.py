"""Figures for the HTML report as inline SVG (matplotlib, Agg): nothing to fetch to view them.

Learning curves (training loss and validation metric against steps and seconds) and the error
of every model by forecast horizon, for tasks whose metrics name their horizon
(``mae@15min``, ``top5@1.0s``: Li et al. 2018 report traffic error at 15/30/60 minutes,
Furnari & Farinella 2019 anticipation accuracy per τa).
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HORIZON = re.compile(r"^(?P<base>[^@]+)@(?P<value>\d+(?:\.\d+)?)(?P<unit>[a-z]*)$")


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def svg(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element (the XML prologue dropped), then closed."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    pyplot().close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def learning_curves(points: pd.DataFrame, primary: str, goal: str) -> Figure | None:
    """Training loss (top) and validation ``primary`` (bottom, only where some seed was validated
    more than once: a single final score is already in the table) against steps and training
    seconds; one colour per model, one line per seed. ``points``: ``model, seed`` + curve columns."""
    if points.empty:
        return None
    plt = pyplot()
    validated = points.dropna(subset=["val_metric"]).groupby(["model", "seed"]).size()
    rows = 2 if not validated.empty and validated.max() >= 2 else 1
    fig, axes = plt.subplots(rows, 2, figsize=(10, 3.3 * rows), sharey="row", squeeze=False)
    colours = {str(m): f"C{i % 10}" for i, m in enumerate(sorted(points["model"].unique()))}
    first_seed = {str(m): s for m, s in points.groupby("model")["seed"].min().items()}
    for (model, seed), line in points.groupby(["model", "seed"], sort=True):
        label = str(model) if seed == first_seed[str(model)] else None
        val = line.dropna(subset=["val_metric"])
        for col, x in enumerate(("step", "seconds")):
            axes[0, col].plot(line[x], line["train_loss"], color=colours[str(model)], lw=1, alpha=0.8, label=label)
            if rows == 2 and len(val) >= 2:
                axes[1, col].plot(val[x], val["val_metric"], "o-", color=colours[str(model)], lw=1, ms=3, alpha=0.8)
    for col, x in enumerate(("optimiser steps", "training seconds (validation excluded)")):
        axes[rows - 1, col].set_xlabel(x)
    axes[0, 0].set_ylabel("training loss")
    if rows == 2:
        axes[1, 0].set_ylabel(f"validation {primary}\n({'lower' if goal == 'min' else 'higher'} is better)")
    if (points["train_loss"] > 0).all() and points["train_loss"].max() > 10 * points["train_loss"].min():
        axes[0, 0].set_yscale("log")
    axes[0, 0].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def horizon_metrics(metrics: tuple[str, ...]) -> tuple[str, list[tuple[float, str, str]]] | None:
    """The first metric family that names horizons, as ``(base, [(value, unit, metric), ...])``
    sorted by horizon; ``None`` when the task has fewer than two horizons of one metric."""
    families: dict[str, list[tuple[float, str, str]]] = {}
    for name in dict.fromkeys(metrics):  # a headline metric may also be listed among the horizons
        match = HORIZON.match(name)
        if match:
            families.setdefault(match["base"], []).append((float(match["value"]), match["unit"], name))
    for base, items in families.items():
        if len(items) >= 2:
            return base, sorted(items)
    return None


def by_horizon(ok: pd.DataFrame, metrics: tuple[str, ...], goal: str) -> Figure | None:
    """Mean over seeds of the horizon metric family against the horizon, one line per model."""
    found = horizon_metrics(metrics)
    if found is None:
        return None
    base, items = found
    columns = [f"metric.{name}" for _, _, name in items if f"metric.{name}" in ok]
    if len(columns) < 2:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    horizons = [value for value, _, name in items if f"metric.{name}" in ok]
    for model, group in ok.groupby("model", sort=True):
        ax.plot(horizons, [group[c].astype(float).mean() for c in columns], "o-", label=str(model))
    unit = items[0][1]
    ax.set_xlabel(f"horizon ({unit})" if unit else "horizon")
    ax.set_ylabel(f"{base} ({'lower' if goal == 'min' else 'higher'} is better)")
    ax.set_xticks(horizons)
    ax.set_title(f"{base} by forecast horizon")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig
