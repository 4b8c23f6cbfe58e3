"""Command line: seqbench list | run | leaderboard | report | plugins | validate."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from seqbench.manager import Registry, UnknownName, get_registry
from seqbench.plan import make_plan, pair_reason, parse_devices, select
from seqbench.specs import PRESETS, Preset, RunOptions

SEEDS: dict[Preset, int] = {"smoke": 1, "quick": 3, "paper": 3}
TIMEOUT: dict[Preset, float] = {"smoke": 600, "quick": 1800, "paper": 86400}


class UsageError(ValueError):
    """Bad command-line input; reported as one line, exit status 2."""


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
             t.available(data) or "available", t.summary, registry.plugin_name("task", t.name)]
            for t in (registry.tasks[n] for n in tasks)
        ]
        print(_table(rows, ["task", "accepts", "primary metric", "status", "summary", "plugin"]))
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
    plan = make_plan(registry, _names(args.models), _names(args.tasks), parse_devices(args.device),
                     _seeds(args.seeds, preset), preset, options, _data(args.data))
    if not plan.jobs and not plan.skipped:
        raise UsageError("nothing to run: no compatible (model, task) pair in the selection")
    timeout = args.timeout if args.timeout is not None else TIMEOUT[preset]
    summary = run_plan(registry, plan, Path(args.output), timeout, resume=args.resume, argv=sys.argv)
    print(f"{summary.done} job(s) ok, {summary.failed} failed, {summary.resumed} resumed, "
          f"{summary.skipped} skipped; reports: {', '.join(str(p) for p in summary.reports)}")
    return 1 if summary.failed else 0


def cmd_leaderboard(args: argparse.Namespace, registry: Registry) -> int:
    from seqbench.report import write_reports
    from seqbench.runner import STORE_NAME
    from seqbench.store import Store

    path = Path(args.output) / STORE_NAME
    if not path.is_file():
        raise UsageError(f"no results store at {path}: run `seqbench run --output {args.output}` first")
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
        return 2


if __name__ == "__main__":
    sys.exit(main())
