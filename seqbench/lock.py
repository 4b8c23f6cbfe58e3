"""One run at a time per output folder: an exclusive lock file, refused with a clear line.

Two runs writing into one folder would be safe for the store (SQLite serialises the writes)
but not for the results: each run's throughput figures would be measured while the other
competes for the same cores. So a second run into a folder in use is refused (exit 3); use
another ``--output``. The lock is an ``flock`` on ``.seqbench.lock``: the kernel releases it
when the holder dies, however it dies, so a killed run never leaves the folder locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seqbench.errors import HarnessError
from seqbench.files import io_fault

LOCK_NAME = ".seqbench.lock"


@contextmanager
def output_lock(folder: Path) -> Iterator[Path]:
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise io_fault(path, exc) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise HarnessError(f"{path}: another seqbench run (pid {holder}) is writing to {folder}; wait for it "
                               "to finish or pass another --output (two runs at once would also distort each "
                               "other's throughput figures)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock
