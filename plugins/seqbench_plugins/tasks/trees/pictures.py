"""Recovered trees beside the gold trees, as text outlines (the HTML report shows them inline).

Alioth-Melis & Jaakkola (2017) show decoded trees next to the gold ones; a side-by-side outline
keeps that view readable without a drawing library, and marks each predicted node that is not
at the same place in the gold tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest

from seqbench.trees import Tree


def outline(tree: Tree, names: Sequence[str]) -> list[tuple[tuple[int, ...], str]]:
    """(path from the root, indented label) per node, pre-order."""
    out: list[tuple[tuple[int, ...], str]] = []

    def walk(node: Tree, path: tuple[int, ...]) -> None:
        name = names[node.label] if 0 <= node.label < len(names) else f"#{node.label}"
        out.append((path, "  " * len(path) + name))
        for i, child in enumerate(node.children):
            walk(child, (*path, i))

    walk(tree, ())
    return out


def side_by_side(gold: Tree, predicted: Tree, names: Sequence[str], title: str) -> str:
    """Gold on the left, recovered on the right; ``✗`` marks a recovered node whose label differs
    from the gold node at the same path (or that the gold tree lacks)."""
    left, right = outline(gold, names), outline(predicted, names)
    gold_at = {path: text.strip() for path, text in left}
    width = max(12, *(len(text) for _, text in left))
    lines = [title, f"{'gold':<{width}}   recovered", f"{'-' * width}   {'-' * width}"]
    for g, p in zip_longest(left, right):
        mark = " " if p is None or gold_at.get(p[0]) == p[1].strip() else "✗"
        lines.append(f"{g[1] if g else '':<{width}} {mark} {p[1] if p else ''}")
    return "\n".join(lines)
