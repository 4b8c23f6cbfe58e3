"""Labelled ordered trees: the public contract of the ``TREE`` signature. Tasks build a
:class:`TreeBatch`, TREE models read it and return :class:`Tree` objects. From the tree-recovery
tasks of Alvarez-Melis & Jaakkola, "Tree-structured decoding with doubly-recurrent neural
networks", ICLR 2017: the tree type, its bracketed linearisation ``a ( b c ( d ) )``, a strict
parser for it (clear errors on malformed strings) and the batch layout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class TreeFormatError(ValueError):
    """A bracketed tree string or token sequence that is not a well-formed tree."""


class Tree:
    """A node: integer ``label`` and ordered ``children``. Not a dataclass or tuple on purpose,
    so that ``seqbench.task.to_device`` passes it through instead of rebuilding it recursively."""

    __slots__ = ("children", "label")

    def __init__(self, label: int, children: Sequence[Tree] = ()) -> None:
        self.label = int(label)
        self.children = tuple(children)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tree) and self.label == other.label and self.children == other.children

    def __hash__(self) -> int:
        return hash((self.label, self.children))

    def __repr__(self) -> str:
        return f"Tree({self.label}{', ' if self.children else ''}{', '.join(map(repr, self.children))})"

    def preorder(self) -> Iterator[tuple[Tree, Tree | None, int, int]]:
        """(node, parent, depth, sibling index) in pre-order; iterative, so deep trees are fine."""
        stack: list[tuple[Tree, Tree | None, int, int]] = [(self, None, 0, 0)]
        while stack:
            node, parent, depth, sib = stack.pop()
            yield node, parent, depth, sib
            stack.extend((c, node, depth + 1, i) for i, c in reversed(list(enumerate(node.children))))

    def size(self) -> int:
        return sum(1 for _ in self.preorder())

    def depth(self) -> int:
        """Number of levels (a single node has depth 1)."""
        return max(d for _, _, d, _ in self.preorder()) + 1

    def max_children(self) -> int:
        return max(len(n.children) for n, _, _, _ in self.preorder())


# -- bracketed linearisation: ``a ( b c ( d ) )``; a leaf has no brackets -------------------
OPEN, CLOSE = "(", ")"


def to_brackets(tree: Tree, names: Sequence[str]) -> str:
    out: list[str] = []
    stack: list[Tree | str] = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        out.append(names[item.label])
        if item.children:
            stack.append(CLOSE)
            stack.extend(reversed(item.children))
            stack.append(OPEN)
    return " ".join(out)


def parse_tokens(tokens: Sequence[str | int], label_of: dict[str | int, int]) -> Tree:
    """Parse ``label ( child ... )`` tokens; raises :class:`TreeFormatError` saying what and where."""
    if not tokens:
        raise TreeFormatError("empty tree string: expected at least one label")
    stack: list[tuple[int, list[Tree]]] = []  # open nodes: (label, children so far)
    last: Tree | None = None
    roots: list[Tree] = []
    for i, tok in enumerate(tokens):
        container = stack[-1][1] if stack else roots
        if tok == OPEN:
            if last is None:  # only a label just read may open a child list
                after = f"after {tokens[i - 1]!r}" if i else "at the start"
                raise TreeFormatError(f"token {i}: '(' must follow a label, got it {after}")
            container.pop()
            stack.append((last.label, []))
            last = None
        elif tok == CLOSE:
            if not stack:
                raise TreeFormatError(f"token {i}: unbalanced ')'")
            if not stack[-1][1]:
                raise TreeFormatError(f"token {i}: empty child list '( )'")
            label, children = stack.pop()
            (stack[-1][1] if stack else roots).append(Tree(label, children))
            last = None
        else:
            if tok not in label_of:
                raise TreeFormatError(f"token {i}: unknown label {tok!r}")
            last = Tree(label_of[tok])
            container.append(last)
    if stack:
        raise TreeFormatError(f"{len(stack)} unclosed '(' at the end of the tree string")
    if len(roots) != 1:
        raise TreeFormatError(f"expected exactly one root, got {len(roots)}")
    return roots[0]


def from_brackets(text: str, names: Sequence[str]) -> Tree:
    return parse_tokens(text.split(), {n: i for i, n in enumerate(names)})


class Golds(list[Tree]):
    """The batch's gold trees (a list subclass, carried through ``to_device`` untouched)."""


@dataclass
class TreeBatch:
    """Everything a TREE model may read. Node fields are flat over the batch (N nodes, pre-order
    per tree, trees one after another); ``parent``/``prev`` index into that flat order.
    ``lm_*`` hold the bracketed linearisation for sequence models: left-padded source, SEP,
    target, EOS; ``lm_mask`` marks the positions whose next token is part of the target."""

    src: torch.Tensor  # (B, L) long, right-padded with 0
    src_len: torch.Tensor  # (B,) long
    tree_of: torch.Tensor  # (N,) long
    labels: torch.Tensor
    parent: torch.Tensor
    prev: torch.Tensor
    depth: torch.Tensor
    sib: torch.Tensor
    has_children: torch.Tensor  # (N,) float
    has_next: torch.Tensor
    lm_in: torch.Tensor  # (B, T) long
    lm_out: torch.Tensor  # (B, T) long
    lm_mask: torch.Tensor  # (B, T) float
    golds: list[Tree]
