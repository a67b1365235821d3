"""Memory and latency at scale, through the real server over stdio.

* 1, 50 and 200 open documents of 5,000 lines: server RSS, completion latency (automatic
  requests at distinct positions, debounce 0) and didChange latency at the end of a document.
* One 10 MB document: time to open it, one completion, and didChange latency at its end.
* The same completions' FIM calls made directly (plain backend, same prompts, same emulator),
  so that the server's own share is a difference of two figures measured in one run.

didChange is a notification, so its latency is measured as (edit + a ``deepseekFim/stats``
round trip) minus a bare stats round trip, medians of several. The emulator runs in its own
process with no added latency, so completion figures are the server's own time plus local HTTP.

    .venv/bin/python bench/scale.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BENCH_KEY,
    Server,
    emulator_process,
    lsp_server,
    machine,
    median,
    pct,
    synthetic_source,
    table,
)
from deepseek_fim_lsp.backends.base import FimRequest  # noqa: E402
from deepseek_fim_lsp.backends.deepseek import DeepSeekBackend  # noqa: E402
from deepseek_fim_lsp.config import Settings  # noqa: E402
from deepseek_fim_lsp.context.crossfile import OpenDocument  # noqa: E402
from deepseek_fim_lsp.context.prompt import prompt_window  # noqa: E402
from deepseek_fim_lsp.context.repo import RepoContext  # noqa: E402

OPTIONS = {"debounceMs": 0}


async def stats_rtt(srv: Server, n: int) -> float:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await srv.stats()
        out.append((time.perf_counter() - t) * 1e3)
    return median(out)


async def edit_latency(srv: Server, uri: str, n: int) -> float:
    """Median ms the server spends on one incremental edit at the end of ``uri``."""
    base = await stats_rtt(srv, n)
    out = []
    for i in range(n):
        end = len(srv.texts[uri])
        srv.edit(uri, end, end, f"x{i % 10}")  # the client's own work is not counted
        t = time.perf_counter()
        await srv.stats()
        out.append((time.perf_counter() - t) * 1e3)
    return max(0.0, median(out) - base)


def positions(text: str, n: int) -> list[int]:
    """``n`` distinct line ends of ``text``, spread over its first 200,000 characters."""
    ends = [i for i, c in enumerate(text[:200_000]) if c == "\n"]
    return [ends[(k * 37 + 11) % len(ends)] for k in range(n)]


async def direct_latency(base_url: str, uri: str, text: str, n: int) -> tuple[float, float]:
    """(p50, p95) ms of the same FIM calls made straight to the emulator (the prompts the
    server builds, without cross-file snippets: those differ per level)."""
    s = Settings()
    backend = DeepSeekBackend(base_url, BENCH_KEY, timeout_s=30)
    out = []
    try:
        for offset in positions(text, n + 1):
            w = prompt_window(RepoContext(), s, uri, text, offset, "python", [], ())
            t = time.perf_counter()
            await backend.fim(FimRequest(s.model, w.prompt, w.suffix, s.max_tokens, 0.0))
            out.append((time.perf_counter() - t) * 1e3)
    finally:
        await backend.aclose()
    out = out[1:]  # the first one opens the connection (the server's is open already)
    return median(out), pct(out, 95)


async def completion_latency(srv: Server, uri: str, n: int) -> tuple[float, float]:
    """(p50, p95) ms of automatic completions at ``n`` distinct line ends of ``uri``."""
    out = []
    for offset in positions(srv.texts[uri], n):
        t = time.perf_counter()
        await asyncio.wait_for(srv.inline(uri, offset), 60)
        out.append((time.perf_counter() - t) * 1e3)
    return median(out), pct(out, 95)


async def main_async(args: argparse.Namespace) -> None:
    lines = 500 if args.quick else 5000
    levels = [1, 5] if args.quick else [1, 50, 200]
    big_mb = 1 if args.quick else 10
    reps = 5 if args.quick else 40
    print(f"scale: {levels} open documents of {lines} lines, then one {big_mb} MB document")
    print(f"machine: {machine()}")
    base_text = synthetic_source(lines)
    rows = []
    async with emulator_process() as base_url:
        async with lsp_server(base_url, OPTIONS) as srv:
            await srv.stats()
            rss0 = srv.mem_mib()[0]
            rows.append(("rss_idle", 0, rss0, *[float("nan")] * 7))
            opened = 0
            for level in levels:
                t = time.perf_counter()
                while opened < level:
                    text = f"# document {opened}\n" + base_text
                    srv.open(f"file:///bench/scale/doc{opened}.py", text, "python")
                    opened += 1
                await srv.stats()
                open_s = time.perf_counter() - t
                uri = "file:///bench/scale/doc0.py"
                p50, p95 = await completion_latency(srv, uri, reps)
                d50, d95 = await direct_latency(base_url, uri, srv.texts[uri], reps)
                edit = await edit_latency(srv, uri, reps)
                rss = srv.mem_mib()[0]
                rows.append((f"docs_{level}", level, rss, open_s, p50, p95, d50, d95, p50 - d50,
                             edit))
        async with lsp_server(base_url, OPTIONS) as srv:
            await srv.stats()
            unit = synthetic_source(2000)
            big = unit * (big_mb * 1024 * 1024 // len(unit) + 1)
            big = big[: big.rfind("\n", 0, big_mb * 1024 * 1024) + 1]
            uri = "file:///bench/scale/big.py"
            t = time.perf_counter()
            srv.open(uri, big, "python")
            await srv.stats()
            open_s = time.perf_counter() - t
            p50, p95 = await completion_latency(srv, uri, 1)
            edit = await edit_latency(srv, uri, reps)
            rss = srv.mem_mib()[0]
            nan = float("nan")
            rows.append((f"doc_{big_mb}mb", 1, rss, open_s, p50, p95, nan, nan, nan, edit))
    print()
    print(table(rows, ["figure", "open_docs", "rss_mib", "open_s", "completion_p50_ms",
                       "completion_p95_ms", "direct_p50_ms", "direct_p95_ms", "server_p50_ms",
                       "didchange_ms"]))
    print(f"\n{lines}-line document: {len(base_text) / 1e6:.2f} MB; open_s is the time to send "
          "the didOpen notifications and get a stats answer back; the big document gets one "
          "completion (p50 = p95); direct: the same FIM calls straight to the emulator; "
          "server_p50 = completion_p50 - direct_p50 (the server's own share)")
    print("\nthe prompt alone (in-process, the engine's prompt_window: cross-file snippets and "
          "repository context), the first request after opening included:")
    print(table(window_latency(base_text, levels, reps),
                ["figure", "open_docs", "window_p50_ms", "window_p95_ms", "window_max_ms"]))


def window_latency(base_text: str, levels: list[int], reps: int) -> list[tuple[object, ...]]:
    """Build the prompt for ``reps`` positions with ``level`` other open documents."""
    s = Settings()
    rows: list[tuple[object, ...]] = []
    for level in levels:
        docs = [OpenDocument(f"file:///bench/scale/doc{i}.py", "python",
                             f"# document {i}\n" + base_text, float(i)) for i in range(level)]
        current = docs[0]
        repo = RepoContext()
        out = []
        for offset in positions(current.text, reps):
            t = time.perf_counter()
            prompt_window(repo, s, current.uri, current.text, offset, "python", docs, ())
            out.append((time.perf_counter() - t) * 1e3)
        rows.append((f"window_{level}", level, median(out), pct(out, 95), max(out)))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few seconds, for the smoke test")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
