"""Text corpora for language modelling: PTB, WikiText-2, any plain text, CPython's own docs.

Penn Treebank as prepared by Mikolov et al. 2010 (``ptb.{train,valid,test}.txt``: one
sentence per line, 10k-word vocabulary with ``<unk>`` already applied); WikiText-2 of
Merity et al., "Pointer sentinel mixture models", ICLR 2017 (``wiki.{train,valid,test}.tokens``).
Both are read word-level the way the reference code of those papers reads them: every line,
blank ones included, is split on whitespace and ends with ``<eos>``; the vocabulary is the
training split's, and words never seen in training map to ``<unk>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

EOS, UNK = "<eos>", "<unk>"
SPLITS = ("train", "val", "test")
WORD_FILES: dict[str, tuple[str, str, str]] = {
    "ptb": ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
    "wikitext2": ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),
}
TEXT_SPLIT_FILES = ("train.txt", "valid.txt", "test.txt")


class CorpusError(ValueError):
    """A corpus file that is missing, empty, not text, or too small to use."""


@dataclass(frozen=True)
class Corpus:
    """Token streams per split and the vocabulary (index -> symbol)."""

    streams: Mapping[str, torch.Tensor]
    vocab: tuple[str, ...]


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``, or a CorpusError saying which file and why."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not raw.strip():
        raise CorpusError(f"{path} is empty: expected UTF-8 text")
    if b"\x00" in raw[:65536]:
        raise CorpusError(f"{path} looks binary (contains NUL bytes): expected UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8 text: invalid byte at offset {exc.start}") from exc


def _encode(symbols: Sequence[str], index: Mapping[str, int], unk: int) -> torch.Tensor:
    return torch.tensor([index.get(s, unk) for s in symbols], dtype=torch.long)


def build_corpus(splits: Mapping[str, Sequence[str]], unk: str, names: Mapping[str, str]) -> Corpus:
    """Vocabulary from the training split (sorted, so it is deterministic), ``unk`` added."""
    for split in SPLITS:
        if len(splits[split]) < 2:
            raise CorpusError(f"{names[split]}: {split} split has {len(splits[split])} tokens, need at least 2")
    vocab = sorted(set(splits["train"]) | {unk})
    index = {s: i for i, s in enumerate(vocab)}
    streams = {split: _encode(splits[split], index, index[unk]) for split in SPLITS}
    return Corpus(streams, tuple(vocab))


def word_tokens(text: str) -> list[str]:
    """Mikolov/Merity convention: every line's words followed by ``<eos>``."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(line.split())
        out.append(EOS)
    return out


def read_word_corpus(directory: Path, kind: str) -> Corpus:
    """PTB (``kind="ptb"``) or WikiText-2 (``"wikitext2"``) from ``directory``."""
    files = {split: directory / name for split, name in zip(SPLITS, WORD_FILES[kind], strict=True)}
    tokens = {split: word_tokens(read_text(path)) for split, path in files.items()}
    return build_corpus(tokens, UNK, {s: str(p) for s, p in files.items()})


def split_text(text: str, fractions: tuple[float, float] = (0.9, 0.05)) -> dict[str, str]:
    """Contiguous 90/5/5 split of one text (deterministic; no shuffling of neighbouring text)."""
    a = int(len(text) * fractions[0])
    b = int(len(text) * (fractions[0] + fractions[1]))
    return {"train": text[:a], "val": text[a:b], "test": text[b:]}


def read_char_corpus(path: Path) -> Corpus:
    """Character-level corpus from a file (split 90/5/5) or a directory.

    A directory with ``train.txt``, ``valid.txt`` and ``test.txt`` uses those splits;
    otherwise every ``*.txt`` file in it (sorted by name) is joined and split 90/5/5.
    """
    if not path.exists():
        raise CorpusError(f"{path} does not exist: expected a text file or a directory of .txt files")
    if path.is_dir():
        if all((path / name).is_file() for name in TEXT_SPLIT_FILES):
            texts = {split: read_text(path / name) for split, name in zip(SPLITS, TEXT_SPLIT_FILES, strict=True)}
            return build_corpus(texts, UNK, {s: str(path / n) for s, n in zip(SPLITS, TEXT_SPLIT_FILES, strict=True)})
        files = sorted(path.glob("*.txt"))
        if not files:
            raise CorpusError(f"{path} contains no .txt files")
        text = "\n".join(read_text(f) for f in files)
    else:
        text = read_text(path)
    return build_corpus(split_text(text), UNK, dict.fromkeys(SPLITS, str(path)))


def pydoc_text() -> str:
    """English documentation text shipped with CPython (``pydoc_data.topics``), topics sorted.

    Available on every machine without download; its content follows the Python version.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def pydoc_corpus() -> Corpus:
    return build_corpus(split_text(pydoc_text()), UNK, dict.fromkeys(SPLITS, "pydoc_data.topics"))


def word_available(kind: str, data: Mapping[str, str]) -> str | None:
    """None when ``data[kind]`` names a directory holding the corpus files, else why not."""
    names = WORD_FILES[kind]
    need = f"needs --data {kind}=DIR with {', '.join(names)}"
    if kind not in data:
        return need
    directory = Path(data[kind]).expanduser()
    if not directory.is_dir():
        return f"{need}; {directory} is not a directory"
    missing = [n for n in names if not (directory / n).is_file()]
    return f"{need}; missing in {directory}: {', '.join(missing)}" if missing else None


def text_available(data: Mapping[str, str]) -> str | None:
    need = "needs --data text=PATH (a UTF-8 text file, or a directory of .txt files)"
    if "text" not in data:
        return need
    path = Path(data["text"]).expanduser()
    return None if path.exists() else f"{need}; {path} does not exist"
