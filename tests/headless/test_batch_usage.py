"""``complete --batch`` counts each backend call's usage once, however many lines it answered."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from test_cli import fims, run, write_jsonl

from conftest import TEST_KEY
from deepseek_fim_lsp.emulator import Emulator, Reply

SUMMARY = re.compile(r"([\d,]+) tokens \(prompt ([\d,]+) cache hit \+ ([\d,]+) miss, "
                     r"([\d,]+) output\); \$([\d.]+)")


def summary(err: str) -> tuple[int, int, int, int, float]:
    m = SUMMARY.search(err)
    assert m is not None, err
    total, hit, miss, out = (int(g.replace(",", "")) for g in m.groups()[:4])
    return total, hit, miss, out, float(m.group(5))


def emulator_usage(emu: Emulator) -> tuple[int, int, int]:
    """Tokens the emulator itself accounted for: (cache hit, cache miss, output)."""
    usages: list[dict[str, Any]] = [q.usage for q in fims(emu) if q.usage is not None]
    return (sum(u["prompt_cache_hit_tokens"] for u in usages),
            sum(u["prompt_cache_miss_tokens"] for u in usages),
            sum(u["completion_tokens"] for u in usages))


def line_usage(lines: list[dict[str, Any]]) -> tuple[int, int, int]:
    return (sum(x["usage"]["cacheHitTokens"] for x in lines),
            sum(x["usage"]["cacheMissTokens"] for x in lines),
            sum(x["usage"]["completionTokens"] for x in lines))


def test_identical_concurrent_requests_count_their_shared_call_once(tmp_path: Path) -> None:
    same = {"prefix": "def add(a, b):\n    return ", "suffix": "\n", "language": "python"}
    with Emulator(api_keys=(TEST_KEY,), first_token_ms=300) as emu:
        emu.fim_responder = lambda body: "a + b"
        write_jsonl(tmp_path / "r.jsonl", [
            {"id": "first", **same}, {"id": "twin", **same},
            {"id": "other", "prefix": "x = ", "suffix": "\n"}, {"id": "triplet", **same},
        ])
        r = run(tmp_path, emu.base_url, "complete", "--batch", "r.jsonl", "--concurrency", "4")
        assert r.code == 0, r.err
        lines = {x["id"]: x for x in r.lines()}
        sent = fims(emu)
    assert len(sent) == 2  # the three identical requests shared one call
    assert [lines[i]["text"] for i in ("first", "twin", "triplet")] == ["a + b"] * 3
    # The line that made the call carries its usage and cost; the lines it also answered read
    # like cache hits: nothing was sent for them, so no tokens and no cost.
    owners = [i for i in ("first", "twin", "triplet") if not lines[i]["cached"]]
    assert len(owners) == 1  # whichever got its request out first (usually "first")
    (owner,) = owners
    assert lines[owner]["cost"] > 0 and lines[owner]["usage"]["completionTokens"] > 0
    for rid in {"first", "twin", "triplet"} - {owner}:
        assert lines[rid]["cached"] is True and lines[rid]["cost"] == 0
        assert lines[rid]["usage"] == {"cacheHitTokens": 0, "cacheMissTokens": 0,
                                       "completionTokens": 0}
    assert lines["other"]["cached"] is False and lines["other"]["cost"] > 0
    # Per-line figures and the summary agree with the emulator's own accounting.
    hit, miss, out = emulator_usage(emu)
    assert line_usage(list(lines.values())) == (hit, miss, out)
    total, s_hit, s_miss, s_out, cost = summary(r.err)
    assert (s_hit, s_miss, s_out, total) == (hit, miss, out, hit + miss + out)
    assert cost == round(sum(x["cost"] for x in lines.values()), 6)
    assert "4 done" in r.err and f"; {len(sent)} API requests;" in r.err


def test_identical_requests_one_after_another_read_the_same(tmp_path: Path) -> None:
    """With no concurrency the second identical request is a cache hit: same report."""
    same = {"prefix": "def add(a, b):\n    return ", "suffix": "\n"}
    with Emulator(api_keys=(TEST_KEY,)) as emu:
        write_jsonl(tmp_path / "r.jsonl", [{"id": 1, **same}, {"id": 2, **same}])
        r = run(tmp_path, emu.base_url, "complete", "--batch", "r.jsonl", "--concurrency", "1")
        one, two = r.lines()
        assert len(fims(emu)) == 1
        hit, miss, out = emulator_usage(emu)
    assert (one["cached"], two["cached"]) == (False, True)
    assert two["cost"] == 0 and line_usage([two]) == (0, 0, 0)
    assert line_usage([one, two]) == (hit, miss, out)
    assert summary(r.err)[1:4] == (hit, miss, out)
    assert "; 1 API request;" in r.err


def test_a_retried_request_counts_the_call_that_answered(tmp_path: Path) -> None:
    with Emulator(api_keys=(TEST_KEY,)) as emu:
        emu.script(Reply(status=429, endpoint="fim"))
        write_jsonl(tmp_path / "r.jsonl", [{"id": 1, "prefix": "x = "}])
        r = run(tmp_path, emu.base_url, "complete", "--batch", "r.jsonl")
        (line,) = r.lines()
        assert [q.status for q in fims(emu)] == [429, 200]
        hit, miss, out = emulator_usage(emu)
    assert line["cached"] is False and line_usage([line]) == (hit, miss, out)
    assert "; 2 API requests;" in r.err and summary(r.err)[1:4] == (hit, miss, out)
