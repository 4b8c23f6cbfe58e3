"""Command line: seqbench list | run | leaderboard | report | plugins | validate.

Exit statuses: 0 every job ok; 1 some jobs failed; 2 usage or bad input; 3 harness or I/O
fault (store, output folder, disk, lock); 130 interrupted. See :mod:`seqbench.errors`.
"""

from __future__ import annotations

import argparse
import difflib
import math
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from seqbench import errors
from seqbench.errors import HarnessError, UsageError
from seqbench.executors.base import Executor
from seqbench.manager import Registry, UnknownName, get_registry
from seqbench.plan import make_plan, pair_reason, parse_devices, select
from seqbench.specs import PRESETS, Preset, RunOptions

SEEDS: dict[Preset, int] = {"smoke": 1, "quick": 3, "paper": 3}
TIMEOUT: dict[Preset, float] = {"smoke": 600, "quick": 1800, "paper": 86400}
__all__ = ["UsageError", "main", "parser"]


def _names(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def _data(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, path = item.partition("=")
        if not sep or not key or not path:
            raise UsageError(f"--data expects KEY=PATH (e.g. ptb=~/data/ptb), got {item!r}")
        out[key.strip()] = str(Path(path).expanduser())
    return out


def check_data(data: Mapping[str, str], registry: Registry) -> None:
    """Data the user named explicitly must exist and belong to a task: an error, not a skipped row."""
    owners: dict[str, list[str]] = {}
    for task in registry.tasks.values():
        for key in task.data_keys:
            owners.setdefault(key, []).append(task.name)
    for key, path in data.items():
        if key not in owners:
            close = difflib.get_close_matches(key, owners, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"--data {key}={path}: no task reads data key {key!r}; {hint}"
                             f"known keys: {', '.join(sorted(owners)) or 'none'}")
        where = Path(path)
        if not where.exists():
            raise UsageError(f"--data {key}={path}: no such file or directory (read by {', '.join(owners[key])})")
        if where.is_dir() and not any(where.iterdir()):
            raise UsageError(f"--data {key}={path}: the directory is empty (read by {', '.join(owners[key])})")


def _timeout(value: float | None, preset: Preset) -> float:
    if value is None:
        return TIMEOUT[preset]
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {value:g}")
    return value


def _seeds(text: str | None, preset: Preset) -> list[int]:
    if text is None:
        return list(range(SEEDS[preset]))
    try:
        if "," in text:
            return [int(s) for s in text.split(",") if s.strip()]
        count = int(text)
    except ValueError:
        raise UsageError(f"--seeds expects a count (3) or a list (0,1,2), got {text!r}") from None
    if count < 1:
        raise UsageError(f"--seeds must be at least 1, got {count}")
    return list(range(count))


def _table(rows: Sequence[Sequence[object]], headers: list[str]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def report_plugin_problems(registry: Registry) -> None:
    """One stderr line per plugin that failed (or lost specs) or warned: a selection such as
    ``--models 'l*'`` must never silently miss a broken plugin's models."""
    for record in registry.plugins:
        if record.errors or record.warnings:
            level = "error" if record.errors else "warning"
            print(f"seqbench: {level}: plugin {record.name}: {record.problems()} "
                  "(`seqbench plugins` lists every plugin)", file=sys.stderr)


def cmd_list(args: argparse.Namespace, registry: Registry) -> int:
    report_plugin_problems(registry)
    data = _data(args.data)
    check_data(data, registry)
    models = select(_names(args.models), registry.models, "model")
    tasks = select(_names(args.tasks), registry.tasks, "task")
    if args.what == "models":
        rows: list[list[object]] = [
            [m.name, ", ".join(map(str, m.signatures)), "baseline" if m.baseline else "model", m.summary,
             registry.plugin_name("model", m.name)]
            for m in (registry.models[n] for n in models)
        ]
        print(_table(rows, ["model", "signatures", "kind", "summary", "plugin"]))
    elif args.what == "tasks":
        rows = [
            [t.name, ", ".join(map(str, t.accepts)), f"{t.primary.name} ({t.primary.goal})",
             ", ".join(t.data_keys) or "-", t.available(data) or "available", t.summary,
             registry.plugin_name("task", t.name)]
            for t in (registry.tasks[n] for n in tasks)
        ]
        print(_table(rows, ["task", "accepts", "primary metric", "data keys", "status", "summary", "plugin"]))
    else:
        reasons: dict[tuple[str, str], str] = {}
        rows = []
        for m in models:
            row: list[object] = [m]
            for t in tasks:
                reason = pair_reason(registry.models[m], registry.tasks[t], data)
                row.append("." if reason else "yes")
                if reason:
                    reasons[(m, t)] = reason
            rows.append(row)
        print(_table(rows, ["model \\ task", *tasks]))
        runnable = len(models) * len(tasks) - len(reasons)
        print(f"\n{runnable} pair(s) will run; {len(reasons)} will not:")
        grouped: dict[str, list[str]] = {}
        for (m, t), reason in sorted(reasons.items()):
            grouped.setdefault(reason, []).append(f"{m} x {t}")
        for reason, pairs in sorted(grouped.items()):
            print(f"  {reason}:\n      {', '.join(pairs)}")
    return 0


def cmd_plugins(args: argparse.Namespace, registry: Registry) -> int:
    rows: list[list[object]] = [
        [p.name, p.origin, p.distribution, p.version, p.entry_point, ", ".join(p.models), ", ".join(p.tasks),
         p.problems() or "ok"]
        for p in registry.plugins
    ]
    print(_table(rows, ["plugin", "origin", "distribution", "version", "entry point", "models", "tasks", "status"]))
    return 0


def cmd_validate(args: argparse.Namespace, registry: Registry) -> int:
    from seqbench.validate import BadTarget, summary, validate

    try:
        print(f"seqbench validate {args.target}")
        verdicts = validate(args.target, jobs=not args.no_jobs)
    except BadTarget as exc:
        raise UsageError(str(exc)) from None
    line, status = summary(verdicts)
    print(line)
    return status


def cmd_run(args: argparse.Namespace, registry: Registry) -> int:
    from seqbench.runner import run_plan

    report_plugin_problems(registry)
    preset: Preset = args.preset
    if args.amp and "cuda" not in args.device:
        raise UsageError("--amp is for CUDA devices: mixed precision on the CPU would not be comparable")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    options = RunOptions(threads=args.threads, compile=args.compile, amp=args.amp,
                         deterministic=args.deterministic, measure=not args.no_measure)
    timeout = _timeout(args.timeout, preset)
    data = _data(args.data)
    check_data(data, registry)
    plan = make_plan(registry, _names(args.models), _names(args.tasks), parse_devices(args.device),
                     _seeds(args.seeds, preset), preset, options, data)
    if not plan.jobs and not plan.skipped:
        raise UsageError("nothing to run: no compatible (model, task) pair in the selection")
    executor, width = _executor(args)
    from seqbench.estimate import estimate
    from seqbench.progress_display import Display
    from seqbench.runner import STORE_NAME

    guess = estimate(plan.jobs, Path(args.output) / STORE_NAME, width)
    if args.dry_run:
        from seqbench.dry_run import show

        show(plan, guess, width, args.executor)
        return errors.OK
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None  # stops the run as Ctrl-C does
    try:
        with Display() as display:  # live on a terminal, plain log lines otherwise
            summary = run_plan(registry, plan, Path(args.output), timeout, resume=args.resume, argv=sys.argv,
                               verbose=args.verbose, executor=executor, estimate=guess.wall, log=display.log,
                               progress=display.update)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    print(f"{summary.done} job(s) ok, {summary.failed} failed, {summary.resumed} resumed, "
          f"{summary.skipped} skipped; reports: {', '.join(str(p) for p in summary.reports)}")
    if summary.interrupted:
        print("interrupted: rerun with --resume", file=sys.stderr)
        return errors.INTERRUPTED
    return errors.JOBS_FAILED if summary.failed else errors.OK


def _executor(args: argparse.Namespace) -> tuple[Executor, int]:
    """The executor ``--executor``/``--jobs``/``--address`` ask for, and how many jobs it runs at once."""
    from seqbench.executors.local import LocalExecutor, default_jobs

    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    if args.executor == "local":
        if args.address is not None:
            raise UsageError("--address is for --executor ray")
        width = args.jobs or default_jobs(args.threads)
        return LocalExecutor(width), width
    try:
        from seqbench.executors.ray import RayExecutor
    except ImportError as exc:
        raise UsageError(f"--executor ray needs Ray: pip install 'seqbench[ray]' ({exc})") from None
    ray = RayExecutor(args.address, args.threads)
    return ray, args.jobs or ray.width()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_leaderboard(args: argparse.Namespace, registry: Registry) -> int:
    from seqbench.report import write_reports
    from seqbench.runner import STORE_NAME, prepare_output
    from seqbench.store import Store

    path = Path(args.output) / STORE_NAME
    if not path.is_file():
        raise UsageError(f"no results store at {path}: run `seqbench run --output {args.output}` first")
    prepare_output(Path(args.output))
    with Store(path) as store:
        for written in write_reports(registry, store, Path(args.output)):
            print(written)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqbench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list models, tasks or the pair matrix")
    ls.add_argument("what", choices=["models", "tasks", "pairs"])
    for q in (ls,):
        q.add_argument("--models", action="append", help="names or globs, comma separated")
        q.add_argument("--tasks", action="append", help="names or globs, comma separated")
    run = sub.add_parser("run", help="run every compatible (model, task, device, seed) job")
    run.add_argument("--models", action="append", help="names or glob patterns, comma separated (default: all)")
    run.add_argument("--tasks", action="append", help="names or glob patterns, comma separated (default: all)")
    run.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, auto, or a comma list (default: cpu)")
    run.add_argument("--seeds", help="a count N (seeds 0..N-1) or a comma list (0,1,2; a single seed 7 as 7,); "
                     "default 1 at smoke, 3 otherwise")
    run.add_argument("--preset", choices=PRESETS, default="quick", help="sizes and budgets (default: quick)")
    run.add_argument("--timeout", type=float, help="per-job time limit in seconds (default depends on the preset)")
    run.add_argument("--output", default="results", help="output folder (default: results/)")
    run.add_argument("--resume", action="store_true", help="skip jobs whose identical config already succeeded")
    run.add_argument("--threads", type=int, help="CPU threads per job (recorded)")
    run.add_argument("--compile", action="store_true", help="torch.compile the model (recorded)")
    run.add_argument("--amp", choices=["bf16", "fp16"], help="mixed precision on CUDA (recorded)")
    run.add_argument("--deterministic", action="store_true", help="deterministic algorithms only (recorded)")
    run.add_argument("--no-measure", action="store_true", help="skip throughput and memory measurement")
    run.add_argument("--jobs", type=int, help="jobs at once on this machine (default: cores // --threads, "
                     "1 without --threads); throughput is never timed while another job computes")
    run.add_argument("--executor", choices=["local", "ray"], default="local",
                     help="local processes (default) or tasks on a Ray cluster (pip install 'seqbench[ray]')")
    run.add_argument("--address", help="Ray cluster to join: HOST:PORT or auto (default: start a local one)")
    run.add_argument("--dry-run", action="store_true", help="print the planned jobs, the skipped pairs and an "
                     "estimated wall time; run nothing")
    run.add_argument("--verbose", action="store_true", help="print the full traceback of every failed job "
                     "(the store keeps it either way)")
    for q in (ls, run):
        q.add_argument("--data", action="append", metavar="KEY=PATH", help="dataset location, e.g. ptb=~/data/ptb")
    for name in ("leaderboard", "report"):
        lb = sub.add_parser(name, help="regenerate every report from the results store")
        lb.add_argument("--output", default="results", help="folder holding seqbench.sqlite (default: results/)")
    sub.add_parser("plugins", help="list every plugin with its origin and any error")
    val = sub.add_parser("validate", help="check one plugin's contracts and run a smoke job per pair; "
                         "exit 0 pass, 1 fail, 2 not found")
    val.add_argument("target", help="an installed distribution (seqbench-window-mlp) or a module (my_plugin, "
                     "my_plugin:plugin_object)")
    val.add_argument("--no-jobs", action="store_true", help="contract checks only, no smoke job per pair")
    return p


COMMANDS = {"list": cmd_list, "run": cmd_run, "leaderboard": cmd_leaderboard, "report": cmd_leaderboard,
            "plugins": cmd_plugins, "validate": cmd_validate}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    registry = get_registry()
    try:
        return COMMANDS[args.command](args, registry)
    except (UsageError, UnknownName, ValueError) as exc:
        failed = [p.name for p in registry.failed]  # a name may be unknown because its plugin is broken
        unknown = isinstance(exc, UnknownName) or "matches nothing" in str(exc)
        hint = f" (plugins that failed to load: {', '.join(failed)})" if failed and unknown else ""
        print(f"seqbench: error: {exc}{hint}", file=sys.stderr)
        return errors.USAGE
    except HarnessError as exc:
        print(f"seqbench: error: {exc}", file=sys.stderr)
        return errors.HARNESS
    except KeyboardInterrupt:  # before the run started, or while it was being set up
        print("interrupted: rerun with --resume", file=sys.stderr)
        return errors.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
