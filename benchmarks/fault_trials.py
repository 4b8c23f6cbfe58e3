"""Repeated fault injection on one output folder, as an operator would do it (issue 18).

Each trial starts ``seqbench run --resume`` and SIGKILLs it at a random moment (start-up,
peak measurement, a job process importing torch, a job in flight, just after a commit); then
checks the store's integrity, that no job process outlived the parent, and that no config
has more than one successful attempt. A last run completes the plan; it must redo nothing
and lose nothing. Prints a table trials x outcome.

    python -m benchmarks.fault_trials --trials 12 [--output DIR] [--min-delay 1] [--max-delay 25]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seqbench.procfs import alive, descendants

ARGS = ["run", "--preset", "smoke", "--models", "lstm,gru,unigram", "--tasks", "lm-hmm", "--seeds", "2",
        "--no-measure", "--resume"]


def _ok_attempts(store: Path) -> tuple[str, dict[str, int]]:
    if not store.exists():
        return "ok (no store yet)", {}
    db = sqlite3.connect(store)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        counts = dict(db.execute("SELECT config_hash, COUNT(*) FROM attempts WHERE status='ok' GROUP BY config_hash"))
    finally:
        db.close()
    return str(integrity), counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--min-delay", type=float, default=1.0)
    parser.add_argument("--max-delay", type=float, default=25.0)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = args.output or Path(tempfile.mkdtemp(prefix="seqbench-faults-"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = random.Random(args.seed)
    command = [sys.executable, "-m", "seqbench.cli", *ARGS, "--output", str(out)]
    integrity_ok = orphans = duplicated = lost = 0
    rows = []
    for trial in range(args.trials):
        _, before = _ok_attempts(out / "seqbench.sqlite")
        delay = rng.uniform(args.min_delay, args.max_delay)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        workers = descendants(proc.pid)
        proc.kill()
        proc.wait()
        time.sleep(3.0)
        left = [w for w in workers if alive(w)]
        integrity, after = _ok_attempts(out / "seqbench.sqlite")
        integrity_ok += integrity.startswith("ok")
        orphans += len(left)
        duplicated += sum(1 for n in after.values() if n > 1)
        lost += len(set(before) - set(after))
        rows.append((trial, f"{delay:.1f}", len(workers), len(left), integrity, len(after)))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    integrity, final = _ok_attempts(out / "seqbench.sqlite")
    print("trial  kill after (s)  job processes  orphans  integrity  configs ok")
    for row in rows:
        print("{:>5}  {:>14}  {:>13}  {:>7}  {:>9}  {:>10}".format(*row))
    print(f"\nparent SIGKILL at {args.trials} random moments: integrity ok {integrity_ok}/{args.trials}, "
          f"orphans {orphans}, configs with a successful attempt redone {duplicated}, successful results lost {lost}")
    print(f"final resume: exit {done.returncode}, integrity {integrity}, {len(final)}/6 configs ok, "
          f"redone {sum(1 for n in final.values() if n > 1)}")


if __name__ == "__main__":
    main()
