"""Linux /proc helpers shared by the fault tests and the fault-trial benchmark (issue 18): which
processes a process started, and whether a pid is still running (a zombie is not)."""

from __future__ import annotations

from pathlib import Path


def _stat(pid: int | str) -> list[str]:
    # the command name (field 2) may hold blanks and parentheses: split after its last ')'
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if int(_stat(entry.name)[1]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
    return found


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, ... of ``pid`` (a forked job process is the job server's child)."""
    found, frontier = [], [pid]
    while frontier:
        below = [c for p in frontier for c in children(p)]
        found += below
        frontier = below
    return found


def alive(pid: int) -> bool:
    """Running (or stopped), not a zombie and not gone."""
    try:
        return _stat(pid)[0] != "Z"
    except (OSError, IndexError):
        return False
