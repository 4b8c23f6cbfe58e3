"""Run progress: the state value, its ETA, and the display off a terminal (plain lines only)."""

from __future__ import annotations

import io

from seqbench.progress import Progress, duration, label
from seqbench.progress_display import Display


def test_progress_counts_running_jobs_and_estimates_the_time_left() -> None:
    state = Progress(4, started=100.0)
    assert state.eta(now=110.0) is None and state.current == ""  # nothing finished: no pace yet
    a, b = label("lstm", "lm-hmm", "cpu", 0), label("gru", "lm-hmm", "cpu", 0)
    state = state.start(a).start(b)
    assert state.running == (a, b) and state.current == b
    state = state.end(a, ok=True).end(b, ok=False)
    assert (state.done, state.failed, state.finished, state.running) == (1, 1, 2, ())
    assert state.eta(now=120.0) == 20.0  # 2 jobs in 20 s, 2 left


def test_duration_reads_like_a_clock() -> None:
    assert [duration(s) for s in (None, 0, 12.4, 187, 3720)] == ["–", "0s", "12s", "3m 07s", "1h 02m"]


def test_off_a_terminal_the_display_prints_plain_lines_and_no_escape_codes() -> None:
    stream = io.StringIO()  # not a tty: CI logs, files, pipes
    with Display(stream) as display:
        assert not display.live
        display.update(Progress(2).start("lstm x lm-hmm on cpu, seed 0"))
        display.log("[0/2 done] lstm x lm-hmm on cpu, seed 0 ...")
    assert stream.getvalue() == "[0/2 done] lstm x lm-hmm on cpu, seed 0 ...\n"
    assert "1 running" in display.line() and "now: lstm x lm-hmm" in display.line()


def test_on_a_terminal_the_display_draws_a_bar_and_keeps_log_lines() -> None:
    stream = io.StringIO()
    with Display(stream, live=True) as display:
        display.update(Progress(3).start("a").end("a", ok=True).start("b"))
        display.log("    ok in 1.0 s")
    text = stream.getvalue()
    assert "ok in 1.0 s" in text and "1/3 jobs" in text and "now:" in text and "━" in text
