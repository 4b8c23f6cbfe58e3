"""The built-in reporter: accuracy and throughput leaderboards (Markdown via tabulate, CSV via pandas).

Accuracy: per preset and task, models ranked by the primary metric's mean over seeds
(± sample std, n). Models whose mean ± std intervals overlap the group leader's share its
rank and are marked ``≈``: the spread cannot separate them. Where the task knows the best
possible score (e.g. an oracle perplexity) each model's ratio to it is shown.
Throughput: per task and device, median over seeds of each job's median rate.
Primary metric, directions and units come from the store (:class:`seqbench.results.Results`),
never from the plugins installed today. A config ranks by its latest successful attempt; a
failed attempt made after it is marked ``†`` and listed below the tables.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seqbench import hookimpl
from seqbench.reporters.markdown import THROUGHPUT, render
from seqbench.results import Results
from seqbench.store import atomic_write


def _rank(group: pd.DataFrame, goal: str) -> pd.DataFrame:
    """Rank by mean; a model whose mean ± std overlaps its group leader's shares the rank."""
    group = group.sort_values("mean", ascending=goal == "min").reset_index(drop=True)
    ranks: list[int] = []
    leader = (0.0, 0.0)
    for i, (mean, std) in enumerate(zip(group["mean"], group["std"], strict=True)):
        lo, hi = mean - std, mean + std
        if not ranks or lo > leader[1] or hi < leader[0]:
            leader = (lo, hi)
            ranks.append(i + 1)
        else:
            ranks.append(ranks[-1])
    group["rank"] = ranks
    group["tied"] = group["rank"].map(group["rank"].value_counts()) > 1
    return group


def _ok(results: Results) -> pd.DataFrame:
    """Successful rows of tasks whose ranking metadata the store holds."""
    frame = results.frame
    if frame.empty:
        return frame
    return frame[(frame["status"] == "ok") & frame["task"].isin(list(results.tasks))]


def accuracy_table(results: Results) -> pd.DataFrame:
    """One row per (preset, task, model): primary metric mean/std/n, rank, ties, best possible."""
    ok = _ok(results)
    rows = []
    for (preset, task, model), g in ok.groupby(["preset", "task", "model"], sort=True):
        meta = results.tasks[str(task)]
        primary = meta.primary
        if f"metric.{primary}" not in g:
            continue
        values = g[f"metric.{primary}"].astype(float)
        row = {
            "preset": preset, "task": task, "model": model, "primary": primary, "goal": meta.goal,
            "kind": "baseline" if g["baseline"].iloc[0] else "model", "n": len(g), "mean": values.mean(),
            "std": values.std(ddof=1) if len(g) > 1 else 0.0, "params": g.get("measure.params", pd.Series()).mean(),
            # a CUDA job whose outputs differ from a CPU copy of the same weights (seqbench.parity)
            "parity_failed": bool((g.get("measure.parity_ok", pd.Series(dtype=float)) == 0).any()),
        }
        best = f"best_possible.{primary}"
        row["best_possible"] = g[best].mean() if best in g else float("nan")
        later = g[g["later_status"] != ""] if "later_status" in g else g.iloc[:0]
        pairs = zip(later["seed"], later["later_status"], strict=True)
        row["later_failures"] = "; ".join(sorted({f"seed {seed}: {status}" for seed, status in pairs}))
        for name in [c for c in meta.metrics if c != primary]:
            if f"metric.{name}" in g:
                row[name] = g[f"metric.{name}"].astype(float).mean()
        rows.append(row)
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows)
    ranked = [_rank(g, g["goal"].iloc[0]) for _, g in table.groupby(["preset", "task"], sort=True)]
    table = pd.concat(ranked, ignore_index=True)
    table["ratio_to_best_possible"] = table["mean"] / table["best_possible"]
    return table


def throughput_table(results: Results) -> pd.DataFrame:
    ok = _ok(results)
    cols = [c for c in THROUGHPUT if c in ok]
    if ok.empty or not cols:
        return pd.DataFrame()
    table = ok.groupby(["preset", "task", "model", "device"], sort=True)[cols].median().reset_index()
    table["unit"] = table["task"].map(lambda t: results.tasks[t].unit)
    return table


@hookimpl
def seqbench_write_reports(results: Results, output_dir: Path) -> list[Path]:
    accuracy = accuracy_table(results) if not results.empty else pd.DataFrame()
    throughput = throughput_table(results) if not results.empty else pd.DataFrame()
    jobs = results.attempts.drop(columns=["artifacts", "traceback"], errors="ignore")
    # each file says which store state it reflects (the files are replaced one by one)
    tables = [t.assign(store_state=results.state) if not t.empty else t for t in (accuracy, throughput, jobs)]
    files = {
        output_dir / "leaderboard.md": render(results, accuracy, throughput),
        output_dir / "leaderboard.csv": tables[0].to_csv(index=False),
        output_dir / "throughput.csv": tables[1].to_csv(index=False),
        output_dir / "jobs.csv": tables[2].to_csv(index=False),
    }
    for path, text in files.items():
        with atomic_write(path) as handle:
            handle.write(text)
    return list(files)
