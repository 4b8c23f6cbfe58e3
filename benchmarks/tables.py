"""Markdown tables from the JSON that pytest-benchmark saves (``--benchmark-json=F``).

    python -m benchmarks.tables reference F   # reference configurations: params, train / inference samples/s
    python -m benchmarks.tables latency F     # batch-1 latency against sequence length, per backbone
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _machine(benchmark_json: dict[str, Any]) -> str:
    cpu = benchmark_json.get("machine_info", {}).get("cpu", {}).get("brand_raw", "?")
    rounds = sorted({b["stats"]["rounds"] for b in benchmark_json["benchmarks"]})
    span = f"{rounds[0]}" if len(rounds) == 1 else f"{rounds[0]}–{rounds[-1]}"  # pytest-benchmark fits rounds to time
    return f"Machine: {cpu}; median of {span} rounds.\n\n"


def reference_table(benchmark_json: dict[str, Any]) -> str:
    """Parameters and train / inference samples/s (median) per reference configuration and device."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for bench in benchmark_json["benchmarks"]:
        ref = bench["group"].removeprefix("reference-")  # the Reference itself is not JSON
        phase, device = bench["params"]["phase"], bench["params"]["device"]
        row = rows.setdefault((ref, device), dict(bench["extra_info"]))
        row[phase] = bench["extra_info"]["samples"] / bench["stats"]["median"]
    lines = ["| configuration | device | batch | params | reference params | train samples/s | inference samples/s "
             "| threads |", "|---|---|---|---|---|---|---|---|"]
    for (ref, device), row in sorted(rows.items()):
        reference = f"{row['reference_params']:,}" if row.get("reference_params") else "—"
        lines.append(f"| {ref} | {device} | {row['samples']} | {row['params']:,} | {reference} | "
                     f"{row.get('train', float('nan')):.3g} | {row.get('inference', float('nan')):.3g} | "
                     f"{row['threads']} |")
    return _machine(benchmark_json) + "\n".join(lines) + "\n"


def latency_table(benchmark_json: dict[str, Any]) -> str:
    """Median batch-1 latency (ms): one row per backbone and device, one column per length."""
    cells: dict[tuple[str, str], dict[int, float]] = {}
    for bench in benchmark_json["benchmarks"]:
        key = (bench["params"]["model"], bench["params"]["device"])
        cells.setdefault(key, {})[bench["extra_info"]["length"]] = bench["stats"]["median"] * 1e3
    lengths = sorted({n for row in cells.values() for n in row})
    lines = ["| model | device | " + " | ".join(f"T={n}" for n in lengths) + " |",
             "|---|---|" + "---|" * len(lengths)]
    for (model, device), row in sorted(cells.items()):
        values = " | ".join(f"{row[n]:.3g}" if n in row else "—" for n in lengths)
        lines.append(f"| {model} | {device} | {values} |")
    return _machine(benchmark_json) + "Batch-1 inference latency, ms (median).\n\n" + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["reference", "latency"])
    parser.add_argument("json", type=Path)
    args = parser.parse_args()
    data = json.loads(args.json.read_text())
    print(reference_table(data) if args.kind == "reference" else latency_table(data), end="")


if __name__ == "__main__":
    main()
