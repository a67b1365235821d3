"""The benchmark scripts run end to end (in ``--quick`` mode) and print their figures.

Behaviour only: each script exits 0 and prints its figure rows with numbers; where a figure
follows from the design rather than from timing (a debounced server sends fewer requests than
one without debounce; an aligned window hits the prompt cache where a sliding one cannot) that
relation is checked too. No speed is asserted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

EXPECTED = {
    "typing_replay": ["requests_per_100_chars", "right_on_screen_at_pauses_pct",
                      "right_on_screen_after_indent_pct", "server_cpu_s", "peak_rss_mib",
                      "prompt_cache_hit_pct", "cost_usd_per_1000_keystrokes",
                      "server_overhead_p50_ms"],
    "headless_throughput": ["throughput_c1", "throughput_c4"],
    "scale": ["rss_idle", "docs_1", "docs_5", "doc_1mb"],
    "cache_hits": ["prompt_cache_hit_pct", "requests", "prompt_usd_per_1000_requests"],
    "soak": ["at_0", "at_200", "settled"],
    "replay_diagnosis": [],  # prints breakdowns, not figure rows
}

NUMBER = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"


@pytest.fixture(scope="module")
def outputs() -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    """Run every script at once (they are independent) and collect their output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "PYTEST_"))}
    procs = {name: subprocess.Popen([sys.executable, str(BENCH / f"{name}.py"), "--quick"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env)
             for name in EXPECTED}
    done: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=240)
            done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        yield done
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def figure(out: str, name: str) -> list[str]:
    """The cells of the table row whose first cell is ``name``."""
    for line in out.splitlines():
        cells = line.split()
        if cells and cells[0] == name:
            return cells[1:]
    raise AssertionError(f"no figure row {name!r} in:\n{out}")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_script_prints_its_figures(outputs: dict[str, subprocess.CompletedProcess[str]],
                                   script: str) -> None:
    result = outputs[script]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "machine:" in result.stdout
    for name in EXPECTED[script]:
        cells = figure(result.stdout, name)
        assert cells and re.fullmatch(NUMBER, cells[0]), (name, cells)
    assert "sk-test-bench" not in result.stdout + result.stderr  # the key is never printed


@pytest.mark.timeout(300)
def test_debounced_server_sends_fewer_requests_than_naive(
        outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    ours, naive = (float(x) for x in
                   figure(outputs["typing_replay"].stdout, "requests_per_100_chars")[:2])
    assert naive >= 50  # one request per keystroke, give or take moves
    assert ours < naive


@pytest.mark.timeout(300)
def test_aligned_window_hits_the_prompt_cache_where_sliding_chars_cannot(
        outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    aligned, _lines, chars, _cross = (float(x) for x in
                                      figure(outputs["cache_hits"].stdout,
                                             "prompt_cache_hit_pct"))
    assert aligned > 50
    assert chars < aligned / 2


@pytest.mark.timeout(300)
def test_headless_batch_answers_every_request(
        outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    for name in EXPECTED["headless_throughput"]:
        assert figure(outputs["headless_throughput"].stdout, name)[-1] == "4/4"


@pytest.mark.timeout(300)
def test_diagnosis_explains_requests_and_pauses(
        outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    out = outputs["replay_diagnosis"].stdout
    for section in ("backend requests:", "fetches by origin", "fetch outcomes",
                    "indented new lines"):
        assert section in out, out
    shares = re.findall(r"^\s+\d+\s+(" + NUMBER + r")%", out, re.MULTILINE)
    assert shares and all(0 <= float(x) <= 100 for x in shares)
