"""Replay realistic typing through the real server and measure what a user and their bill see.

A seeded typing model (bursts 60–120 ms apart, 150–450 ms thinking pauses, typos fixed with a
backspace, cursor jumps) retypes lines of the shipped samples (Python, TypeScript, Go, Rust, C,
Java) through pytest-lsp's client over stdio, with one didChange and one automatic
inlineCompletion request per keystroke, fired without waiting (the server supersedes them), like
VS Code. Each file's replay starts by placing the cursor (the editor asks there too), then types
0.6–1.2 s later. The emulator answers after 300 ms + 20 ms per chunk like a perfect model: the
true rest of the line and the next line.

The same keystrokes run against our defaults and against a naive configuration (no debounce, no
cache, sliding window, no type-through), then a short sequential phase compares the server's
latency with a direct HTTP call to the same backend.

    .venv/bin/python bench/typing_replay.py [--quick] [--seed N] [--chars N] [--pause-scale X]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BENCH_KEY,
    FIRST_TOKEN_MS,
    PER_CHUNK_MS,
    MemorySampler,
    Server,
    TypingPlan,
    billed_usage,
    cost_usd,
    emulator_process,
    is_right,
    load_samples,
    lsp_server,
    machine,
    median,
    pct,
    perfect_responder,
    plan_typing,
    table,
)
from deepseek_fim_lsp.emulator import Emulator  # noqa: E402

OURS: dict[str, Any] = {}
#: No debounce, no answer cache, a window whose start moves a line at a time, no type-through
#: (so no joining of in-flight requests, no lookahead and no prefetch either).
NAIVE: dict[str, Any] = {"debounceMs": 0, "cacheSize": 0, "slidingWindow": True,
                         "typeThrough": False}


@dataclass
class Req:
    sent: float
    doc: str
    cursor: int
    truth: str
    arrived: float | None = None
    items: list[Any] = field(default_factory=list)
    failed: bool = False

    def done(self, fut: asyncio.Future[Any]) -> None:
        self.arrived = time.perf_counter()
        if fut.cancelled() or fut.exception() is not None:
            self.failed = True
            return
        result = fut.result()
        self.items = list(result.items) if result is not None else []

    @property
    def latency_ms(self) -> float:
        return ((self.arrived or 0.0) - self.sent) * 1e3

    @property
    def right(self) -> bool:
        return bool(self.items) and is_right(self.truth, self.doc, self.cursor, self.items[0])


@dataclass
class Pause:
    kind: str
    arrived: bool
    shown: bool
    right: bool
    #: the pause after the segment's first keystroke (before it, only the cursor placement)
    first: bool = False


@dataclass
class Run:
    name: str
    keystrokes: int = 0
    reqs: list[Req] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    cpu_s: float = 0.0
    rss: list[float] = field(default_factory=list)
    hwm_mib: float = 0.0
    #: (requests, with logged usage, hit, miss, completion tokens): see ``billed_usage``
    emu: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    backend_posts: int = 0
    probe_backend: list[float] = field(default_factory=list)
    probe_fast: list[float] = field(default_factory=list)


async def replay(srv: Server, plan: TypingPlan, run: Run, pause_scale: float = 1.0) -> None:
    uri, truth = plan.uri, plan.truth
    cursor = plan.cursor
    latest: Req | None = None
    target = time.perf_counter()
    typed = 0
    for step in plan.steps:
        target += step.delay * (pause_scale if step.pause else 1.0)
        await asyncio.sleep(max(0.0, target - time.perf_counter()))
        if step.pause and latest is not None:
            arrived = latest.arrived is not None
            run.pauses.append(Pause(step.pause, arrived, arrived and bool(latest.items),
                                    arrived and latest.right, typed == 1))
        typed += step.kind != "move"
        if step.kind == "insert":
            srv.edit(uri, cursor, cursor, step.text)
            cursor += len(step.text)
            run.keystrokes += 1
        elif step.kind == "delete":
            srv.edit(uri, cursor - 1, cursor, "")
            cursor -= 1
            run.keystrokes += 1
        else:
            cursor = step.offset
        req = Req(time.perf_counter(), srv.texts[uri], cursor, truth)
        srv.inline(uri, cursor).add_done_callback(req.done)
        run.reqs.append(req)
        latest = req


async def probe(srv: Server, plan: TypingPlan, run: Run, lines: int = 2) -> None:
    """Latency, looked at deliberately after the replay (where every answer was superseded):
    on ``lines`` retyped lines, delete the rest of the line from the 4th character, wait for
    the answer (a backend request), then type 6 of its characters waiting for each answer
    (type-through / cache), then restore the line."""
    truth, uri = plan.truth, plan.uri
    end = plan.cursor + len(truth) - len(plan.initial)
    starts = [i + 1 for i in range(plan.cursor, end) if truth[i] == "\n"]
    picked = [ls for ls in starts
              if len(truth[ls:truth.find("\n", ls)].strip()) >= 10][:lines]
    for ls in picked:
        le = truth.find("\n", ls)
        cursor = ls + len(truth[ls:le]) - len(truth[ls:le].lstrip()) + 3
        srv.edit(uri, cursor, le, "")
        await asyncio.sleep(0.3)
        for j in range(7):
            if j:
                srv.edit(uri, cursor, cursor, truth[cursor])
                cursor += 1
            t = time.perf_counter()
            result = await asyncio.wait_for(srv.inline(uri, cursor), 30)
            ms = (time.perf_counter() - t) * 1e3
            if result is not None and result.items:
                (run.probe_fast if j else run.probe_backend).append(ms)
            await asyncio.sleep(0.08)
        srv.edit(uri, cursor, cursor, truth[cursor:le])
        await asyncio.sleep(0.3)


async def run_config(name: str, options: dict[str, Any], plans: list[TypingPlan],
                     pause_scale: float = 1.0) -> Run:
    run = Run(name)
    truths = [p.truth for p in plans]
    emu = Emulator(api_keys=(BENCH_KEY,), first_token_ms=FIRST_TOKEN_MS,
                   per_chunk_ms=PER_CHUNK_MS, fim_responder=perfect_responder(truths)).start()
    try:
        async with lsp_server(emu.base_url, options) as srv:
            for plan in plans:
                srv.open(plan.uri, plan.initial, plan.language_id)
            await srv.stats()  # everything opened and settled
            cpu0 = srv.cpu_seconds()
            with MemorySampler(srv.pid) as mem:
                for plan in plans:
                    await replay(srv, plan, run, pause_scale)
                    await asyncio.sleep(1.0)  # the user stops; let the last answers land
            deadline = time.perf_counter() + 15
            while any(r.arrived is None for r in run.reqs) and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            stats = await srv.stats()
            run.stats = dict(stats.get("session", {}))
            run.cpu_s = srv.cpu_seconds() - cpu0
            run.rss = [r for _, r in mem.samples]
            run.hwm_mib = srv.mem_mib()[1]
            fims = emu.requests("/beta/completions")
            run.backend_posts = len(fims)
            run.emu = billed_usage(fims)
            for plan in plans:
                await probe(srv, plan, run)
    finally:
        emu.stop()
    return run


async def overhead(n: int) -> list[tuple[float, float]]:
    """(through the server, direct) milliseconds for ``n`` requests, interleaved in pairs.

    The emulator runs in its own process with the same fixed latency. Each automatic request
    (debounce 0, no cache, one suggestion) is followed at once by a direct streaming POST of the
    exact body the server sent, read to the end of the body on a kept-alive connection; the
    difference is what the server adds."""
    pairs: list[tuple[float, float]] = []
    sample = load_samples()[0]
    ends = [i for i, c in enumerate(sample.text) if c == "\n"]
    opts = {"debounceMs": 0, "cacheSize": 0, "crossFile": False, "invokedSuggestions": 1}
    async with emulator_process(FIRST_TOKEN_MS, PER_CHUNK_MS) as base_url, \
            lsp_server(base_url, opts) as srv, \
            httpx.AsyncClient(base_url=base_url, timeout=30,
                              headers={"Authorization": f"Bearer {BENCH_KEY}"}) as http:
        srv.open(sample.uri, sample.text, sample.language_id)
        await srv.stats()

        async def direct(body: Any) -> float:
            # Read to the end of the body so that the connection is kept for the next call.
            t = time.perf_counter()
            async with http.stream("POST", "/beta/completions", json=body) as resp:
                async for _line in resp.aiter_lines():
                    pass
            return (time.perf_counter() - t) * 1e3

        seen = 0
        for k in range(n + 1):  # the first pair warms both connections up and is dropped
            offset = ends[10 + 3 * k]
            t = time.perf_counter()
            await asyncio.wait_for(srv.inline(sample.uri, offset), 30)
            through = (time.perf_counter() - t) * 1e3
            log = (await http.get("/_emulator/log")).json()
            fims = [e for e in log if e["path"] == "/beta/completions"]
            body = fims[-1]["body"] if len(fims) > seen else None
            seen = len(fims) + 1
            if body is not None:
                d = await direct(body)
                if k:
                    pairs.append((through, d))
    return pairs


def figures(run: Run) -> dict[str, float]:
    fast, slow = run.probe_fast, run.probe_backend
    indent = [p for p in run.pauses if p.kind == "indent"]
    _, _, hit, miss, out = run.emu
    chars = max(1, run.keystrokes)

    def share(ps: list[Pause], f: Callable[[Pause], bool]) -> float:
        return 100.0 * sum(1 for p in ps if f(p)) / len(ps) if ps else float("nan")

    rss = run.rss or [float("nan")]
    return {
        "requests_per_100_chars": 100.0 * run.backend_posts / chars,
        "right_on_screen_at_pauses_pct": share(run.pauses, lambda p: p.right),
        "right_on_screen_after_indent_pct": share(indent, lambda p: p.right),
        "right_after_indent_not_first_pct": share([p for p in indent if not p.first],
                                                  lambda p: p.right),
        "answer_arrived_in_pause_pct": share(run.pauses, lambda p: p.arrived and p.shown),
        "answers_right_when_shown_pct": share([p for p in run.pauses if p.shown],
                                              lambda p: p.right),
        "replay_cache_hits": float(run.stats.get("cacheHits", 0)),
        "replay_type_through_hits": float(run.stats.get("typeThroughHits", 0)),
        "probe_latency_backend_p50_ms": median(slow),
        "probe_latency_backend_p95_ms": pct(slow, 95),
        "probe_latency_cache_tt_p50_ms": median(fast),
        "probe_latency_cache_tt_p95_ms": pct(fast, 95),
        "server_cpu_s": run.cpu_s,
        "server_cpu_ms_per_keystroke": 1e3 * run.cpu_s / chars,
        "rss_start_mib": rss[0],
        "rss_end_mib": rss[-1],
        "peak_rss_mib": run.hwm_mib,
        "prompt_cache_hit_pct": 100.0 * hit / (hit + miss) if hit + miss else float("nan"),
        "cost_usd_per_1000_keystrokes": 1000 * cost_usd(hit, miss, out) / chars,
    }


TARGETS = {
    "requests_per_100_chars": ("<=", 2.5),
    "right_on_screen_after_indent_pct": (">=", 90.0),
    "probe_latency_cache_tt_p95_ms": ("<=", 20.0),
}


def verdict(name: str, value: float) -> str:
    if name not in TARGETS:
        return ""
    op, limit = TARGETS[name]
    ok = value <= limit if op == "<=" else value >= limit
    return f"{op} {limit:g} {'ok' if ok else 'MISSED'}"


async def main_async(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    samples = load_samples()
    if args.quick:
        samples = samples[:1]
    plans = [plan_typing(s, rng, args.chars) for s in samples]
    keys = sum(p.keystrokes for p in plans)
    print(f"typing replay: {keys} keystrokes over {len(plans)} files "
          f"({', '.join(p.language_id for p in plans)}), seed {args.seed}, backend "
          f"{FIRST_TOKEN_MS:g} ms first token + {PER_CHUNK_MS:g} ms/chunk")
    print(f"machine: {machine()}")
    if args.pause_scale != 1.0:
        print(f"thinking pauses scaled by {args.pause_scale:g}")
    ours = await run_config("ours", OURS, plans, args.pause_scale)
    naive = await run_config("naive", NAIVE, plans, args.pause_scale)
    pairs = await overhead(2 if args.quick else 15)
    fo, fn = figures(ours), figures(naive)
    rows = []
    for name in fo:
        a, b = fo[name], fn[name]
        ratio = a / b if b and b == b and a == a else float("nan")
        rows.append((name, a, b, ratio, verdict(name, a)))
    over = median([a - b for a, b in pairs])
    rows.append(("server_overhead_p50_ms", over, float("nan"), float("nan"),
                 f"<= 5 {'ok' if over <= 5 else 'MISSED'}"))
    rows.append(("server_p50_ms_vs_direct_p50_ms", median([a for a, _ in pairs]),
                 median([b for _, b in pairs]), float("nan"), ""))
    print()
    print(table(rows, ["figure", "ours", "naive", "ours/naive", "target"]))
    pause_kinds = sorted({p.kind for p in ours.pauses})
    first = sum(1 for p in ours.pauses if p.kind == "indent" and p.first)
    print("\npauses (ours): " + ", ".join(
        f"{k} {sum(1 for p in ours.pauses if p.kind == k)}" for k in pause_kinds)
          + f" ({first} of the indent pauses follow a segment's first keystroke, "
          "before which only the cursor placement asked)"
          + f"; backend requests: ours {ours.backend_posts}, naive {naive.backend_posts}")
    mem = ours.rss
    print(f"RSS over the run (ours, MiB): start {mem[0]:.1f}, median {median(mem):.1f}, "
          f"end {mem[-1]:.1f}, max {max(mem):.1f}")
    for r in (ours, naive):
        n, logged = r.emu[0], r.emu[1]
        print(f"cost ({r.name}): all {n} backend requests billed for their prompt (prefix "
              f"cache replayed in arrival order), {n - logged} of them dropped before their "
              "first token (no completion tokens)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few seconds, for the smoke test")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--chars", type=int, default=None,
                   help="characters retyped per file (default 300, about ten lines; quick 60)")
    p.add_argument("--pause-scale", type=float, default=1.0,
                   help="multiply thinking pauses (what-if: how long must a pause be?)")
    args = p.parse_args()
    if args.chars is None:
        args.chars = 60 if args.quick else 300
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
