"""Files the harness writes beside the store: atomic report files, stale temporaries, and
OS / SQLite faults turned into one line naming the file and what to do."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqbench.errors import HarnessError, StoreError


def io_fault(path: Path, exc: BaseException) -> HarnessError:
    """One line naming the file and what to do, for an OS or SQLite error on ``path``."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return HarnessError(f"{path}: cannot write here (read-only file or folder); make it writable "
                            "or pass another --output")
    if "full" in text or getattr(exc, "errno", None) == 28:
        return HarnessError(f"{path}: the disk is full; free some space, then rerun with --resume")
    if "not a database" in text:
        return StoreError(f"{path}: not an SQLite database, so not a seqbench store; move it away or pass "
                          "another --output")
    return HarnessError(f"{path}: {exc}")


@contextmanager
def atomic_write(path: Path, mode: str = "w") -> Iterator[Any]:
    """Write ``path`` through a temporary file in the same folder, then rename it into place,
    so a reader (or a crash) never sees a half-written file. The file gets the mode the umask
    allows (mkstemp's private 0600 would hide reports from other users of a shared folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def clean_stale_temporaries(folder: Path) -> list[Path]:
    """Remove ``.*.tmp`` files :func:`atomic_write` left behind when a process was killed
    mid-write (call only while holding the output folder's lock)."""
    removed = []
    for pattern in (".*.tmp", "*/.*.tmp"):
        for path in folder.glob(pattern):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
