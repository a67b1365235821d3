"""Soak: 10,000 keystrokes with requests through the real server; is anything growing?

Replays the typing model over the shipped samples again and again (each file's region is typed,
then deleted, then typed again) with one didChange and one automatic inlineCompletion per
keystroke. To fit 10,000 keystrokes in about two minutes the clock runs faster than a person:
keystrokes 4–7 ms apart, thinking pauses 45–135 ms, debounce 50 ms and a 50 ms + 5 ms/chunk
backend, so requests are sent, superseded, cancelled and answered thousands of times. Prints the
server's RSS, open file descriptors, asyncio task count and fetches in flight (``tasks`` and
``inflight`` from ``deepseekFim/stats``) every tenth of the run. Not for CI.

    .venv/bin/python bench/soak.py [--quick] [--keystrokes N] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BENCH_KEY,
    Server,
    TypingPlan,
    load_samples,
    lsp_server,
    machine,
    median,
    perfect_responder,
    plan_typing,
    table,
)
from deepseek_fim_lsp.emulator import Emulator  # noqa: E402

BURST_SCALE = 0.06
PAUSE_SCALE = 0.3
OPTIONS = {"debounceMs": 50}


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


async def sample_row(srv: Server, keystrokes: int, t0: float) -> tuple[Any, ...]:
    stats = await srv.stats()
    rss, hwm = srv.mem_mib()

    def num(key: str) -> float:
        value = stats.get(key)
        return float(value) if isinstance(value, int | float) else float("nan")

    return (f"at_{keystrokes}", keystrokes, time.perf_counter() - t0, rss, hwm, fds(srv.pid),
            num("tasks"), num("inflight"), num("backendRequests"))


async def main_async(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    plans: list[TypingPlan] = [plan_typing(s, rng, 120) for s in load_samples()]
    total = args.keystrokes
    every = max(1, total // 10)
    print(f"soak: {total} keystrokes, debounce {OPTIONS['debounceMs']} ms, backend 50 ms + "
          f"5 ms/chunk, seed {args.seed}")
    print(f"machine: {machine()}")
    emu = Emulator(api_keys=(BENCH_KEY,), first_token_ms=50, per_chunk_ms=5,
                   fim_responder=perfect_responder([p.truth for p in plans])).start()
    rows: list[tuple[Any, ...]] = []
    pending: set[asyncio.Future[Any]] = set()
    try:
        async with lsp_server(emu.base_url, OPTIONS) as srv:
            for p in plans:
                srv.open(p.uri, p.initial, p.language_id)
            t0 = time.perf_counter()
            rows.append(await sample_row(srv, 0, t0))
            done = 0
            target = time.perf_counter()
            while done < total:
                for plan in plans:
                    uri, cursor = plan.uri, plan.cursor
                    for step in plan.steps:
                        target += step.delay * (PAUSE_SCALE if step.pause else BURST_SCALE)
                        await asyncio.sleep(max(0.0, target - time.perf_counter()))
                        if step.kind == "insert":
                            srv.edit(uri, cursor, cursor, step.text)
                            cursor += len(step.text)
                        elif step.kind == "delete":
                            srv.edit(uri, cursor - 1, cursor, "")
                            cursor -= 1
                        else:
                            cursor = step.offset
                        fut = srv.inline(uri, cursor)
                        pending.add(fut)
                        fut.add_done_callback(pending.discard)
                        if step.kind != "move":
                            done += 1
                            if done % every == 0:
                                rows.append(await sample_row(srv, done, t0))
                            if done >= total:
                                break
                    # Back to the starting state: delete what was typed (one edit).
                    text = srv.texts[uri]
                    typed = len(text) - len(plan.initial)
                    srv.edit(uri, plan.cursor, plan.cursor + typed, "")
                    if done >= total:
                        break
            deadline = time.perf_counter() + 15
            while pending and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            rows.append(await sample_row(srv, done, t0))
            rows[-1] = ("settled", *rows[-1][1:])
    finally:
        emu.stop()
    print()
    print(table(rows, ["figure", "keystrokes", "seconds", "rss_mib", "peak_rss_mib", "open_fds",
                       "asyncio_tasks", "inflight", "backend_requests"]))
    rss = [r[3] for r in rows[1:]]
    growth = rss[-1] - rss[0] if rss else float("nan")
    print(f"\nrss_growth_mib {growth:.2f} (first sample after start to settled; median "
          f"{median(rss):.1f} MiB); requests unanswered at the end: {len(pending)}")
    if all(r[6] != r[6] for r in rows):
        print("asyncio_tasks: n/a — the server's deepseekFim/stats has no `tasks` field")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few seconds, for the smoke test")
    p.add_argument("--keystrokes", type=int, default=None, help="default 10000, quick 200")
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args()
    args.keystrokes = args.keystrokes or (200 if args.quick else 10_000)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
