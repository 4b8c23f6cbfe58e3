"""The errors and exit statuses of the command line, and the warning a task gives about its data.

Exit statuses (documented in the README): 0 every job ok; 1 some jobs failed; 2 usage or bad
input (options, ``--data``, data files); 3 harness or I/O fault (the store, the output folder,
a lock held by another run); 130 interrupted (Ctrl-C, SIGTERM). A job's own failure is a row
with a status, never one of these exceptions.
"""

from __future__ import annotations

OK, JOBS_FAILED, USAGE, HARNESS, INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(ValueError):
    """Bad command-line input or bad data named on it; one line, exit status 2."""


class HarnessError(RuntimeError):
    """The harness cannot do its work (store, output folder, disk, lock); one line naming the
    file and what to do, exit status 3."""


class StoreError(HarnessError):
    """The store file is not a seqbench store, or of a schema version this seqbench cannot read."""


class DataWarning(UserWarning):
    """A task ran, but on something other than what the user might assume (e.g. a subgraph of
    the road graph). Warnings of this class raised inside a job are appended to its row's
    message and printed with the job's outcome."""
