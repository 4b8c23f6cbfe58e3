"""The live progress display of ``seqbench run`` (rich), or plain log lines off a terminal.

On a terminal: a bar with jobs done / failed / running, the elapsed time, the ETA and the job in
flight, kept at the bottom while the runner's log lines scroll above it. Not on a terminal
(CI, a file, a pipe): nothing is redrawn; the runner's own log lines (``[3/12 done, ETA ...]``)
are the record, one line per event.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from seqbench.progress import Progress, duration

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live


class Display:
    """Consumes :class:`Progress` values (``update``) and log lines (``log``)."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.state: Progress | None = None
        self._live: Live | None = None
        self._console: Console | None = None

    def __enter__(self) -> Display:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(file=self.stream)
            live = Live(console=self._console, refresh_per_second=4, transient=False, get_renderable=self._render)
            live.__enter__()
            self._live = live
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(kind, exc, tb)
            self._live = None

    def update(self, state: Progress) -> None:
        self.state = state

    def log(self, line: str) -> None:
        if self._console is not None:
            self._console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=self.stream, flush=True)

    def line(self) -> str:
        """The status line, also what the live display shows beside its bar."""
        s = self.state
        if s is None:
            return "planning ..."
        text = (f"{s.finished}/{s.total} jobs · {s.done} ok · {s.failed} failed · {len(s.running)} running · "
                f"elapsed {duration(s.elapsed())} · ETA {duration(s.eta())}")
        return text + (f"\nnow: {s.current}" if s.current else "")

    def _render(self) -> RenderableType:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        s = self.state
        total, finished = (s.total, s.finished) if s is not None else (None, 0)
        status, _, current = self.line().partition("\n")
        grid = Table.grid(padding=(0, 1))
        grid.add_row(ProgressBar(total=total or None, completed=finished, width=30),
                     Text(status, style="bold" if not s or s.failed == 0 else "bold yellow"))
        if current:
            grid.add_row(Text("now:", style="dim"), Text(current.removeprefix("now: ")))
        return grid
