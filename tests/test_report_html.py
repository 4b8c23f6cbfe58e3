"""The HTML report: every section from the store's results alone, self-contained, and (where a
Chromium exists) loaded in a real headless browser with no console errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from seqbench.reporters.html import seqbench_write_reports
from seqbench.results import ReportSection, Results, TaskMeta

NOW = TaskMeta("digits", "mse", (("mse", "min"), ("ssim", "max")), "frames", "nowcasting")
ROAD = TaskMeta("road", "mae@60min", tuple((f"mae@{m}min", "min") for m in (60, 15, 30)), "sensor-steps", "traffic")


def _png(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.imshow([[0, 1], [1, 0]])
    fig.savefig(path)
    plt.close(fig)
    return path


def results(tmp_path: Path) -> Results:
    """Two tasks, two models with two seeds, a baseline, a failed job, curves and a picture."""
    rows, attempt = [], 0
    picture = _png(tmp_path / "digits-lstm-cpu-s0.png")
    for task in (NOW, ROAD):
        for model, base, baseline in (("lstm", 2.0, False), ("gru", 2.5, False), ("last", 4.0, True)):
            for seed in (0, 1):
                attempt += 1
                metrics = {f"metric.{m}": base + 0.1 * seed + i for i, m in enumerate(task.metrics)}
                rows.append({"attempt": attempt, "run_id": "r1", "model": model, "task": task.name, "device": "cpu",
                             "seed": seed, "preset": "quick", "status": "ok", "message": "", "baseline": baseline,
                             "later_status": "", "later_message": "", "machine": "Xeon", "measure.params": 12_345.0,
                             "measure.infer_samples_per_s": 1e4 / base, "measure.flops_per_sample": 6.6e8,
                             "artifacts": [str(picture)] if task is NOW and model == "lstm" else [], **metrics})
    rows.append({**rows[0], "attempt": attempt + 1, "model": "convlstm", "status": "timeout",
                 "message": "job exceeded its time limit of 60 s", "artifacts": []})
    frame = pd.DataFrame(rows)
    curves = pd.DataFrame([{"attempt": a, "step": s, "seconds": s / 10, "train_loss": 3.0 / s,
                            "val_metric": 2.0 / s if s % 50 == 0 else float("nan")}
                           for a in frame["attempt"] for s in range(10, 210, 10)])
    env = {"r1": {"cpu": "Xeon", "torch": "2.13.0", "git_commit": "abc123", "plugins": [{"distribution": "x",
                                                                                       "version": "1"}]}}
    sections = (ReportSection("confusion matrix", "<p id='third-party'>from a plugin</p>", "digits"),
                ReportSection("notes", "<p id='closing'>closing remarks</p>"))
    return Results(frame, frame, {"digits": NOW, "road": ROAD}, "13 attempts", curves, env, sections)


def test_the_report_has_every_section_and_is_self_contained(tmp_path: Path) -> None:
    [path] = seqbench_write_reports(results(tmp_path), tmp_path)
    text = path.read_text()
    ids = re.findall(r'<section id="([^"]+)"', text)
    assert ids == ["t-digits-quick", "t-road-quick", "t-notes", "t-environment", "t-jobs-that-did-not-finish"]
    digits = text.split('id="t-digits-quick"')[1].split("<section")[0]
    road = text.split('id="t-road-quick"')[1].split("<section")[0]
    assert "throughput on cpu" in digits and "accuracy vs throughput" in digits and "learning curves" in digits
    assert 'src="data:image/png;base64,' in digits and "third-party" in digits
    assert "by forecast horizon" in road and "data:image" not in road  # no pictures for this task
    assert "2.05 ± 0.07" in digits and "12.3 K" in digits and "660 M" in digits  # readable numbers
    assert "job exceeded its time limit of 60 s" in text and "abc123" in text and "x 1" in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched from the network
    assert "Content-Security-Policy" in text


def _browser() -> str | None:
    return next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)


# Injected before the report's own content-security policy, so it runs and reports what loaded.
PROBE = """<script>addEventListener("load", () => document.body.setAttribute("data-probe", JSON.stringify({
  images: [...document.images].map(i => i.complete && i.naturalWidth > 0),
  svgs: document.querySelectorAll("figure svg").length,
  sections: [...document.querySelectorAll("section")].map(s => s.id)})));</script>"""


@pytest.mark.skipif(_browser() is None, reason="no chromium on PATH (Debian: apt-get install -y chromium)")
def test_the_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    [path] = seqbench_write_reports(results(tmp_path), tmp_path)
    probed = tmp_path / "probed.html"
    probed.write_text(path.read_text().replace("<head>", "<head>" + PROBE, 1))
    browser = [str(_browser()), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([*browser, "--enable-logging=stderr", "--v=0", "--dump-dom", probed.as_uri()],
                         capture_output=True, text=True, timeout=120)
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # the report runs no script: any console line is an error (CSP, missing file, ...)
    found = re.search(r'data-probe="([^"]+)"', dom.stdout)
    assert found, dom.stdout[:500]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["images"] == [True]  # the inline prediction picture decoded
    assert probe["svgs"] >= 5  # 2 Pareto plots, 2 learning-curve figures, the horizon plot
    assert "t-environment" in probe["sections"] and "t-jobs-that-did-not-finish" in probe["sections"]
    shot = tmp_path / "report.png"
    subprocess.run([*browser, "--window-size=1280,3000", f"--screenshot={shot}", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 50_000  # a page with tables and plots, not a blank one


def test_a_console_error_would_be_caught(tmp_path: Path) -> None:
    """The browser check can fail: a report that fetches from the network breaks the policy."""
    if _browser() is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install -y chromium)")
    [path] = seqbench_write_reports(results(tmp_path), tmp_path)
    bad = tmp_path / "bad.html"
    bad.write_text(path.read_text().replace("</main>", '<img src="https://example.invalid/x.png"></main>'))
    out = subprocess.run([str(_browser()), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                          "--v=0", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", bad.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert any(":CONSOLE" in line and "Content Security Policy" in line for line in out.stderr.splitlines())
