"""Two result stores holding the same jobs, side by side: wall time, metrics and throughput.

Issue 14 asks that ``--jobs 2`` speed a run up without changing what it measures: the same seeds
must give the same metrics, and the throughput figures must agree with a ``--jobs 1`` run within
the run-to-run spread. Run the same command twice into two output folders, then::

    python -m benchmarks.compare_runs A/seqbench.sqlite B/seqbench.sqlite --labels "jobs 1" "jobs 2"

Only jobs present in both stores (same config hash, hence same model, task, preset, seed and
options) are compared; the other rows of either store are ignored. **Wall time** is the summed
duration of the runs those jobs belong to (the ``runs`` table: from start-up to the last result).
**Spread**: each seed is a separately measured job, so the range (max - min) over seeds within one
store is the run-to-run spread; B agrees with A when their medians differ by no more than the
larger of the two ranges.
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

import pandas as pd

from seqbench.numbers import sig
from seqbench.store import Store

RATES = (("infer_samples_per_s", "inference samples/s"), ("train_samples_per_s", "training samples/s"))


def _load(path: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    """The store's ranked rows and each run's wall seconds."""
    if not path.is_file():
        raise SystemExit(f"compare_runs: no results store at {path} (expected OUTPUT/seqbench.sqlite)")
    with Store(path) as store:
        frame = store.frame()
        walls = {run: finished - started for run, started, finished in store.db.execute(
            "SELECT run_id, started, finished FROM runs WHERE finished IS NOT NULL")}
    return frame[frame["status"] == "ok"], walls


def _metrics(row: pd.Series) -> dict[str, float]:
    return {str(k): v for k, v in row.items() if str(k).startswith("metric.") and not pd.isna(v)}


def compare(a: Path, b: Path, labels: tuple[str, str]) -> str:
    """The comparison as markdown."""
    (fa, walls_a), (fb, walls_b) = _load(a), _load(b)
    common = sorted(set(fa["config_hash"]) & set(fb["config_hash"]))
    if not common:
        raise SystemExit("compare_runs: the two stores share no successful job (same config hash)")
    fa, fb = (f[f["config_hash"].isin(common)].set_index("config_hash").loc[common] for f in (fa, fb))
    differ = [h for h in common if _metrics(fa.loc[h]) != _metrics(fb.loc[h])]
    wall_a = sum(walls_a.get(r, math.nan) for r in set(fa["run_id"]))
    wall_b = sum(walls_b.get(r, math.nan) for r in set(fb["run_id"]))
    out = [f"{len(common)} jobs in both stores. Wall time: {labels[0]} {wall_a / 60:.1f} min, "
           f"{labels[1]} {wall_b / 60:.1f} min, speed-up {wall_a / wall_b:.2f}x.",
           f"Metrics identical in {len(common) - len(differ)} of {len(common)} jobs"
           + (f"; they differ in: {', '.join(_name(fa.loc[h]) for h in differ)}." if differ else "."), ""]
    for column, title in RATES:
        out += _rate_table(fa, fb, f"measure.{column}", title, labels)
    return "\n".join(out)


def _name(row: pd.Series) -> str:
    return f"{row['model']} x {row['task']} seed {row['seed']}"


def _rate_table(fa: pd.DataFrame, fb: pd.DataFrame, column: str, title: str, labels: tuple[str, str]) -> list[str]:
    lines = [f"{title}: median over seeds [range]", "",
             f"| task | model | {labels[0]} | {labels[1]} | ratio | within spread |", "|---|---|---|---|---|---|"]
    agree = total = 0
    for (task, model), group in fa.groupby(["task", "model"]):
        xa = [v for v in group.get(column, pd.Series(dtype=float)) if not pd.isna(v)]
        xb = [v for v in fb.loc[group.index].get(column, pd.Series(dtype=float)) if not pd.isna(v)]
        if not xa or not xb:  # baselines with nothing to time
            continue
        ma, mb = statistics.median(xa), statistics.median(xb)
        ok = abs(mb - ma) <= max(max(xa) - min(xa), max(xb) - min(xb))
        agree, total = agree + ok, total + 1
        lines.append(f"| {task} | {model} | {sig(ma)} [{sig(min(xa))}–{sig(max(xa))}] | "
                     f"{sig(mb)} [{sig(min(xb))}–{sig(max(xb))}] | {mb / ma:.2f} | {'yes' if ok else 'no'} |")
    if not total:  # nothing timed this way (e.g. only baselines)
        return []
    return [*lines, "", f"{agree} of {total} within the run-to-run spread.", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="the first store (e.g. the --jobs 1 run)")
    parser.add_argument("b", type=Path, help="the second store (e.g. the --jobs 2 run)")
    parser.add_argument("--labels", nargs=2, default=("A", "B"), metavar=("A", "B"))
    args = parser.parse_args()
    print(compare(args.a, args.b, tuple(args.labels)))


if __name__ == "__main__":
    main()
