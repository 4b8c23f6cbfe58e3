"""The leaderboard in Markdown: per task an accuracy table and a throughput table per device,
then the rows that need a reader's attention (failed attempts after a success, notes, jobs
that did not finish, tasks that cannot be ranked)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from tabulate import tabulate

from seqbench.numbers import MISSING, mean_std, si, sig
from seqbench.results import Results

THROUGHPUT = {
    "measure.train_samples_per_s": "train samples/s",
    "measure.infer_samples_per_s": "infer samples/s",
    "measure.infer_samples_per_s_iqr": "infer IQR (samples/s)",
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
_COUNTS = {"measure.flops_per_sample", "measure.train_flops_per_sample", "measure.params"}


def cell(column: str, value: object) -> str:
    """One throughput-table value for people: counts with SI suffixes, rates to 3 significant
    figures (with an SI suffix from a million on)."""
    if column in _COUNTS:
        return si(value)
    if column == "measure.threads":
        return MISSING if pd.isna(value) else str(int(value))  # type: ignore[call-overload]
    if column == "measure.parity_ok":
        return MISSING if pd.isna(value) else "ok" if value else "FAILED"  # type: ignore[call-overload]
    number = float(value) if isinstance(value, (int, float)) else float("nan")
    return si(number) if abs(number) >= 1e6 else sig(value)  # 1.56 M tokens/s, not 1.56e6


def _duplicates_ratio(group: pd.DataFrame, column: str) -> bool:
    """A task metric that is the very ratio to the best possible score the table computes
    (language modelling's ``oracle_ratio``): shown once, not twice."""
    ours, theirs = group["ratio_to_best_possible"].astype(float), group[column].astype(float)
    both = ours.notna() & theirs.notna()
    return bool(both.any()) and bool(np.allclose(ours[both], theirs[both], rtol=1e-6))


def with_unit(name: str, unit: str, detail: str = "") -> str:
    """A metric's column header: ``mae@60min (mph)``, ``top5@1s (%; mean ± std)``."""
    inside = "; ".join(x for x in (unit, detail) if x)
    return f"{name} ({inside})" if inside else name


def accuracy_rows(group: pd.DataFrame,
                  units: Mapping[str, str] | None = None) -> tuple[str, list[str], list[list[str]]]:
    """One task's ranked accuracy table as display strings: (note, headers, rows); ``units`` maps
    a metric to the unit its header names (from the store's task metadata)."""
    units = units or {}
    primary, goal = group["primary"].iloc[0], group["goal"].iloc[0]
    has_ref = group["best_possible"].notna().any()
    # the table spans every task: keep only this task's own secondary metrics (non-empty here)
    extra = [c for c in group.columns if c not in _ACC_FIXED and group[c].notna().any()]
    extra = [c for c in extra if not (has_ref and _duplicates_ratio(group, c))][:6]
    headers = ["rank", "model", "kind", with_unit(primary, units.get(primary, ""), "mean ± std"), "seeds"]
    headers += ["× best possible"] if has_ref else []
    headers += [*(with_unit(c, units.get(c, "")) for c in extra), "params"]
    body = []
    for _, r in group.iterrows():
        name = f"{r['model']} ⚠ parity" if r["parity_failed"] else r["model"]
        name += " †" if r["later_failures"] else ""
        line = [f"{'≈' if r['tied'] else ''}{r['rank']}", name, r["kind"], mean_std(r["mean"], r["std"], r["n"]),
                str(r["n"])]
        line += [sig(r["ratio_to_best_possible"], 4)] if has_ref else []
        body.append(line + [sig(r[c], 4) for c in extra] + [si(r["params"])])
    better = "lower" if goal == "min" else "higher"
    note = f"Primary metric **{primary}** ({better} is better)."
    if has_ref:
        note += f" Best possible (oracle): **{sig(group['best_possible'].dropna().iloc[0], 4)}**."
    return note, headers, body


def _accuracy_markdown(group: pd.DataFrame, units: Mapping[str, str]) -> str:
    note, headers, body = accuracy_rows(group, units)
    return note + "\n\n" + tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)


_ACC_FIXED = {"preset", "task", "model", "primary", "goal", "kind", "n", "mean", "std", "params", "best_possible",
              "rank", "tied", "ratio_to_best_possible", "parity_failed", "later_failures"}


def throughput_rows(group: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """One task's throughput table (every device) as display strings: (headers, rows)."""
    unit = group["unit"].iloc[0]
    cols = [c for c in THROUGHPUT if c in group and group[c].notna().any()]
    headers = ["model", "device"] + [THROUGHPUT[c].format(unit=unit) for c in cols]
    body = [[str(r["model"]), str(r["device"])] + [cell(c, r[c]) for c in cols] for _, r in group.iterrows()]
    return headers, body


def _throughput_markdown(group: pd.DataFrame) -> str:
    headers, body = throughput_rows(group)
    return tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)


def measured_on(results: pd.DataFrame, preset: object, task: object) -> str:
    rows = results[(results["preset"] == preset) & (results["task"] == task) & (results["status"] == "ok")]
    machines = sorted(set(rows["machine"])) if "machine" in rows else []
    threads = sorted({int(t) for t in rows.get("measure.threads", pd.Series(dtype=float)).dropna()})
    where = "; ".join(machines) or "unknown machine"
    if not threads:
        return f"Measured on {where}."
    return f"Measured on {where}, {'/'.join(map(str, threads))} CPU thread{'s' if threads != [1] else ''} per job."


def render(results: Results, accuracy: pd.DataFrame, throughput: pd.DataFrame) -> str:
    frame = results.frame
    out = ["# seqbench leaderboard", "",
           f"Generated {time.strftime('%Y-%m-%d %H:%M')} from the results store by `seqbench leaderboard` "
           f"({len(frame)} job configs; store state: {results.state}). Never edit by hand; regenerate. `≈` marks "
           "a rank the spread (mean ± std over seeds) cannot separate from the model ranked above it; `†` a model "
           "with a failed attempt after the successful one ranked here.", ""]
    for (preset, task), group in (accuracy.groupby(["preset", "task"], sort=True) if not accuracy.empty else []):
        meta = results.tasks.get(str(task))
        units = dict(meta.metric_units) if meta else {}
        out += [f"## {task} ({preset})", "", _accuracy_markdown(group, units), ""]
        if not throughput.empty:
            tg = throughput[(throughput["preset"] == preset) & (throughput["task"] == task)]
            if not tg.empty:
                out += [f"### throughput: {task} ({preset})", "", measured_on(frame, preset, task), "",
                        _throughput_markdown(tg), ""]
    if not frame.empty:
        out += _sections(frame, results)
    return "\n".join(out) + "\n"


def _sections(frame: pd.DataFrame, results: Results) -> list[str]:
    """Rows that are not (or not only) a ranked success, each in its own table."""
    out: list[str] = []
    headers = ["task", "model", "device", "seed", "preset", "status", "reason"]
    unranked = sorted(set(frame["task"]) - set(results.tasks))
    if unranked:
        out += ["## tasks not ranked", "", f"No ranking metadata in the store and no installed plugin for: "
                f"{', '.join(unranked)} (run them once with their plugin installed).", ""]
    later = frame[frame["later_status"] != ""]
    if not later.empty:
        out += ["## failed attempts after a success (the successful result is kept and ranked)", ""]
        body = [[r["task"], r["model"], r["device"], r["seed"], r["preset"], r["later_status"],
                 str(r["later_message"])[:160]] for _, r in later.iterrows()]
        out += [tabulate(body, headers=headers, tablefmt="github"), ""]
    notes = frame[(frame["status"] == "ok") & (frame["message"] != "")]
    if not notes.empty:
        out += ["## notes on successful jobs", ""]
        body = [[r["task"], r["model"], r["device"], r["seed"], r["preset"], "ok", str(r["message"])[:200]]
                for _, r in notes.iterrows()]
        out += [tabulate(body, headers=[*headers[:-1], "note"], tablefmt="github"), ""]
    bad = frame[frame["status"] != "ok"]
    if not bad.empty:
        out += ["## jobs that did not finish", ""]
        body = [[r["task"], r["model"], r["device"], r["seed"], r["preset"], r["status"], str(r["message"])[:160]]
                for _, r in bad.iterrows()]
        out.append(tabulate(body, headers=headers, tablefmt="github"))
    return out


