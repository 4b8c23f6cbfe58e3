"""The built-in reporter: accuracy and throughput leaderboards (Markdown via tabulate, CSV via pandas).

Accuracy: per preset and task, models ranked by the primary metric's mean over seeds
(± sample std, n). Models whose mean ± std intervals overlap the group leader's share its
rank and are marked ``≈``: the spread cannot separate them. Where the task knows the best
possible score (e.g. an oracle perplexity) each model's ratio to it is shown.
Throughput: per task and device, median over seeds of each job's median rate.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from seqbench import hookimpl
from seqbench.store import atomic_write

THROUGHPUT = {
    "measure.train_samples_per_s": "train samples/s",
    "measure.infer_samples_per_s": "infer samples/s",
    "measure.infer_samples_per_s_iqr": "infer IQR",
    "measure.infer_units_per_s": "infer {unit}/s",
    "measure.latency_p50_ms": "latency p50 (ms)",
    "measure.latency_p95_ms": "latency p95 (ms)",
    "measure.step_latency_p50_ms": "step latency p50 (ms)",
    "measure.peak_memory_mb": "peak memory (MiB)",
    "measure.flops_per_sample": "FLOPs/sample",
    "measure.train_flops_per_sample": "train FLOPs/sample",
    "measure.infer_peak_fraction": "infer fraction of peak FLOP/s",
    "measure.params": "params",
    "measure.threads": "threads",
    "measure.parity_ok": "CPU–CUDA parity",
}


def fmt(value: float) -> str:
    if pd.isna(value):
        return ""
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}"


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


def accuracy_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (preset, task, model): primary metric mean/std/n, rank, ties, reference."""
    ok = results[results["status"] == "ok"]
    rows = []
    for (preset, task, model), g in ok.groupby(["preset", "task", "model"], sort=True):
        primary = g["primary"].iloc[0]
        values = g[f"metric.{primary}"].astype(float)
        row = {
            "preset": preset, "task": task, "model": model, "primary": primary, "goal": g["goal"].iloc[0],
            "kind": "baseline" if g["baseline"].iloc[0] else "model", "n": len(g), "mean": values.mean(),
            "std": values.std(ddof=1) if len(g) > 1 else 0.0, "params": g.get("measure.params", pd.Series()).mean(),
            # a CUDA job whose outputs differ from a CPU copy of the same weights (seqbench.parity)
            "parity_failed": bool((g.get("measure.parity_ok", pd.Series(dtype=float)) == 0).any()),
        }
        ref = f"reference.{primary}"
        row["best_possible"] = g[ref].mean() if ref in g else float("nan")
        for name in [c for c in g["metric_order"].iloc[0].split(",") if c and c != primary]:
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


def throughput_table(results: pd.DataFrame) -> pd.DataFrame:
    ok = results[results["status"] == "ok"]
    cols = [c for c in THROUGHPUT if c in ok]
    if ok.empty or not cols:
        return pd.DataFrame()
    table = ok.groupby(["preset", "task", "model", "device"], sort=True)[cols].median().reset_index()
    return table.merge(ok.groupby("task")["unit"].first().reset_index(), on="task")


def _accuracy_markdown(group: pd.DataFrame) -> str:
    primary, goal = group["primary"].iloc[0], group["goal"].iloc[0]
    has_ref = group["best_possible"].notna().any()
    # the table spans every task: keep only this task's own secondary metrics (non-empty here)
    extra = [c for c in group.columns if c not in _ACC_FIXED and group[c].notna().any()][:6]
    headers = ["rank", "model", "kind", f"{primary} (mean ± std)", "n"]
    headers += ["× best possible"] if has_ref else []
    headers += [*extra, "params"]
    body = []
    for _, r in group.iterrows():
        name = f"{r['model']} ⚠ parity" if r["parity_failed"] else r["model"]
        line = [f"{'≈' if r['tied'] else ''}{r['rank']}", name, r["kind"], f"{fmt(r['mean'])} ± {fmt(r['std'])}",
                r["n"]]
        line += [fmt(r["ratio_to_best_possible"])] if has_ref else []
        body.append(line + [fmt(r[c]) for c in extra] + [fmt(r["params"])])
    better = "lower" if goal == "min" else "higher"
    note = f"Primary metric **{primary}** ({better} is better)."
    if has_ref:
        note += f" Best possible (oracle): **{fmt(group['best_possible'].dropna().iloc[0])}**."
    return note + "\n\n" + tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)


_ACC_FIXED = {"preset", "task", "model", "primary", "goal", "kind", "n", "mean", "std", "params", "best_possible",
              "rank", "tied", "ratio_to_best_possible", "parity_failed"}


def _throughput_markdown(group: pd.DataFrame) -> str:
    unit = group["unit"].iloc[0]
    cols = [c for c in THROUGHPUT if c in group and group[c].notna().any()]
    headers = ["model", "device"] + [THROUGHPUT[c].format(unit=unit) for c in cols]
    body = [[r["model"], r["device"]] + [fmt(r[c]) for c in cols] for _, r in group.iterrows()]
    return tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)


def _measured_on(results: pd.DataFrame, preset: object, task: object) -> str:
    rows = results[(results["preset"] == preset) & (results["task"] == task) & (results["status"] == "ok")]
    machines = sorted(set(rows["machine"])) if "machine" in rows else []
    threads = sorted({int(t) for t in rows.get("measure.threads", pd.Series(dtype=float)).dropna()})
    where = "; ".join(machines) or "unknown machine"
    if not threads:
        return f"Measured on {where}."
    return f"Measured on {where}, {'/'.join(map(str, threads))} CPU thread{'s' if threads != [1] else ''} per job."


def render(results: pd.DataFrame, accuracy: pd.DataFrame, throughput: pd.DataFrame) -> str:
    out = ["# seqbench leaderboard", "",
           f"Generated {time.strftime('%Y-%m-%d %H:%M')} from the results store by `seqbench leaderboard` "
           f"({len(results)} job rows). Never edit by hand; regenerate. `≈` marks a rank the spread "
           "(mean ± std over seeds) cannot separate from the model ranked above it.", ""]
    for (preset, task), group in (accuracy.groupby(["preset", "task"], sort=True) if not accuracy.empty else []):
        out += [f"## {task} ({preset})", "", _accuracy_markdown(group), ""]
        if not throughput.empty:
            tg = throughput[(throughput["preset"] == preset) & (throughput["task"] == task)]
            if not tg.empty:
                out += [f"### throughput: {task} ({preset})", "", _measured_on(results, preset, task), "",
                        _throughput_markdown(tg), ""]
    bad = results[results["status"] != "ok"] if not results.empty else results
    if not bad.empty:
        out += ["## jobs that did not finish", ""]
        body = [[r["task"], r["model"], r["device"], r["seed"], r["preset"], r["status"], str(r["message"])[:160]]
                for _, r in bad.iterrows()]
        out.append(tabulate(body, headers=["task", "model", "device", "seed", "preset", "status", "reason"],
                            tablefmt="github"))
    return "\n".join(out) + "\n"


@hookimpl
def seqbench_write_reports(results: pd.DataFrame, output_dir: Path) -> list[Path]:
    accuracy = accuracy_table(results) if not results.empty else pd.DataFrame()
    throughput = throughput_table(results) if not results.empty else pd.DataFrame()
    files = {
        output_dir / "leaderboard.md": render(results, accuracy, throughput),
        output_dir / "leaderboard.csv": accuracy.to_csv(index=False),
        output_dir / "throughput.csv": throughput.to_csv(index=False),
        output_dir / "jobs.csv": results.drop(columns=["artifacts"], errors="ignore").to_csv(index=False),
    }
    for path, text in files.items():
        with atomic_write(path) as handle:
            handle.write(text)
    return list(files)
