"""Real trees from real code: Python expressions and their syntax trees of node types.

The program-generation flavour of Alvarez-Melis & Jaakkola, "Tree-structured decoding with
doubly-recurrent neural networks", ICLR 2017 (Section 5.2): input = an expression's source text
(characters, whitespace runs collapsed to one space), output = its ``ast`` tree of node-type
names (``Call ( Attribute ( Name ) Constant )``; ``Load``/``Store`` contexts are dropped, they
only restate the position). By default the source files are the Python standard library of the
running interpreter, present on every machine; a directory of ``.py`` files can be given instead.

Selection is deterministic: files in an order fixed by a hash of their relative path and the
seed, maximal expressions (not nested in another expression) deduplicated by text, and the
split decided by a hash of the text, so one expression never lands in two splits.
"""

from __future__ import annotations

import ast
import hashlib
import sysconfig
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from seqbench.trees import Tree, to_brackets

PAD, UNK = 0, 1
INPUT_VOCAB = 2 + 95  # padding, unknown, printable ASCII 32..126


@dataclass(frozen=True)
class PythonConfig:
    min_nodes: int
    max_nodes: int
    max_depth: int
    max_children: int
    max_input_len: int  # characters
    n_train: int
    n_val: int
    n_test: int


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def char_ids(text: str) -> list[int]:
    if not text:
        raise ValueError("empty input string: an expression needs at least one character")
    return [ord(ch) - 30 if 32 <= ord(ch) <= 126 else UNK for ch in text]


def source_files(root: Path, seed: int) -> list[Path]:
    if not root.is_dir():
        raise FileNotFoundError(f"Python source directory {root} does not exist or is not a directory")
    files = [p for p in root.rglob("*.py") if "site-packages" not in p.parts]
    key = lambda p: hashlib.sha1(f"{seed}:{p.relative_to(root).as_posix()}".encode()).hexdigest()  # noqa: E731
    return sorted(files, key=key)


def _segment(lines: list[bytes], node: ast.expr) -> str | None:
    """Source text of ``node``; ``col_offset`` counts UTF-8 bytes, hence the byte lines."""
    if node.end_lineno is None or node.end_col_offset is None:
        return None
    first, last = node.lineno - 1, node.end_lineno - 1
    if first == last:
        chunk = lines[first][node.col_offset : node.end_col_offset]
    else:
        middle = lines[first + 1 : last]
        chunk = b"\n".join([lines[first][node.col_offset :], *middle, lines[last][: node.end_col_offset]])
    try:
        return " ".join(chunk.decode("utf-8").split())
    except UnicodeDecodeError:
        return None


def maximal_expressions(source: str) -> Iterator[tuple[str, ast.expr]]:
    """(text, node) for every expression not nested inside another expression."""
    tree = ast.parse(source)
    lines = source.encode("utf-8").split(b"\n")
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, inside = stack.pop()
        if isinstance(node, ast.expr) and not inside:
            text = _segment(lines, node)
            if text:
                yield text, node
        stack.extend((c, inside or isinstance(node, ast.expr)) for c in reversed(list(ast.iter_child_nodes(node))))


def type_tree(node: ast.AST, names: dict[str, int]) -> Tree:
    """The tree of node-type names (new names get the next id in ``names``)."""
    label = names.setdefault(type(node).__name__, len(names))
    kids = [c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.expr_context)]
    return Tree(label, [type_tree(c, names) for c in kids])


def extract(root: Path, config: PythonConfig, seed: int) -> tuple[dict[str, list[tuple[str, str]]], dict[str, int]]:
    """Per split, (source text, bracketed type tree) pairs; and counts of what was skipped and why."""
    quota = {"train": config.n_train, "val": config.n_val, "test": config.n_test}
    splits: dict[str, list[tuple[str, str]]] = {k: [] for k in quota}
    stats: Counter[str] = Counter()
    seen: set[str] = set()
    for path in source_files(root, seed):
        if all(len(splits[k]) >= quota[k] for k in quota):
            break
        stats["files"] += 1
        try:
            source = path.read_bytes().decode("utf-8")
            found = list(maximal_expressions(source))
        except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
            stats["unparseable_files"] += 1  # e.g. Python-2 test fixtures inside the stdlib
            continue
        for text, node in found:
            if text in seen:
                continue
            seen.add(text)
            names: dict[str, int] = {}
            tree = type_tree(node, names)
            size = tree.size()
            if size < config.min_nodes:
                stats["too_small"] += 1
            elif (size > config.max_nodes or tree.depth() > config.max_depth
                  or tree.max_children() > config.max_children):
                stats["beyond_tree_limits"] += 1
            elif len(text) > config.max_input_len:
                stats["input_too_long"] += 1
            else:
                bucket = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) % 10
                split = "train" if bucket < 8 else "val" if bucket == 8 else "test"
                if len(splits[split]) < quota[split]:
                    splits[split].append((text, to_brackets(tree, list(names))))
    short = {k: (len(v), quota[k]) for k, v in splits.items() if len(v) < quota[k]}
    if short:
        raise ValueError(f"Python sources under {root}: not enough expressions within the limits "
                         f"(found, wanted) per split: {short}; skipped: {dict(stats)}")
    return splits, dict(stats)
