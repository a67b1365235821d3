"""Batch completion throughput of ``deepseek-fim-lsp complete --batch`` vs the ideal.

The emulator runs in its own process with a fixed latency (300 ms to the first token, 20 ms per
chunk, the same answer of several chunks every time). For each concurrency the CLI completes the
same set of distinct requests (different files and positions of the shipped samples); the ideal
wall time is ``ceil(N / concurrency)`` times one direct request's latency to the same emulator,
and the same requests sent directly with httpx at the same concurrency show what the emulator and
the machine allow without our code.
CLI wall times include a fixed cost per run (Python start, imports, first connection: a one-request
batch minus one request's latency), shown and subtracted for the throughput figure.

    .venv/bin/python bench/headless_throughput.py [--quick] [--requests N] [--concurrency 1,8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BENCH_KEY,
    FIRST_TOKEN_MS,
    PER_CHUNK_MS,
    emulator_process,
    load_samples,
    machine,
    median,
    table,
)

ANSWER = "value = compute(first, second)  # cached for later"
CLI = [sys.executable, "-m", "deepseek_fim_lsp"]


def requests_file(n: int, seed: int, path: Path) -> None:
    """``n`` distinct requests: prefix/suffix pairs cut at random line ends of the samples."""
    rng = random.Random(seed)
    samples = load_samples()
    lines = []
    for i in range(n):
        s = samples[i % len(samples)]
        ends = [k for k, c in enumerate(s.text) if c == "\n"]
        cut = ends[rng.randrange(10, len(ends) - 5)]
        lines.append(json.dumps({"id": i, "prefix": s.text[:cut], "suffix": s.text[cut:],
                                 "language": s.language_id}))
    path.write_text("\n".join(lines) + "\n", "utf-8")


def cli_env(base_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK_")}
    env.update(DEEPSEEK_BASE_URL=base_url, DEEPSEEK_API_KEY=BENCH_KEY, HOME=str(home),
               XDG_CONFIG_HOME=str(home / ".config"), DEEPSEEK_FIM_STATE_DIR=str(home / "state"))
    return env


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr[-500:]}")
    return elapsed, proc.stdout


async def direct_latency_ms(base_url: str, n: int) -> float:
    """Median latency of a direct streaming FIM call to the emulator (the per-request ideal)."""
    out = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {BENCH_KEY}"}) as http:
        for i in range(n + 1):
            body = {"model": "deepseek-v4-flash", "prompt": f"x{i} = ", "suffix": "\n",
                    "max_tokens": 128, "stream": True}
            t = time.perf_counter()
            async with http.stream("POST", "/beta/completions", json=body) as resp:
                async for _line in resp.aiter_lines():  # to the end: the connection is kept
                    pass
            if i:
                out.append((time.perf_counter() - t) * 1e3)
    return median(out)


async def direct_batch_s(base_url: str, jobs: Path, concurrency: int) -> float:
    """Wall seconds to send the same requests directly (httpx, ``concurrency`` at a time): what
    the emulator and this machine allow without our code, a practical upper bound."""
    bodies = []
    for line in jobs.read_text("utf-8").splitlines():
        obj = json.loads(line)
        bodies.append({"model": "deepseek-v4-flash", "prompt": obj["prefix"],
                       "suffix": obj["suffix"], "max_tokens": 128, "stream": True,
                       "stream_options": {"include_usage": True}})
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits,
                                 headers={"Authorization": f"Bearer {BENCH_KEY}"}) as http:
        async def one(body: dict[str, object]) -> None:
            async with gate, http.stream("POST", "/beta/completions", json=body) as resp:
                async for _line in resp.aiter_lines():
                    pass

        t = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - t


async def main_async(args: argparse.Namespace) -> None:
    n = args.requests
    levels = [int(c) for c in args.concurrency.split(",")]
    print(f"headless throughput: {n} distinct requests per run, concurrency {levels}, backend "
          f"{FIRST_TOKEN_MS:g} ms first token + {PER_CHUNK_MS:g} ms/chunk")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="fim-batch-") as tmp:
        rows = await measure(args, Path(tmp))
    print()
    print(table(rows[1:], ["figure", "req_per_s", "ideal_req_per_s", "efficiency_pct",
                           "wall_s", "ideal_s", "answered"]))
    one, startup = rows[0][1], rows[0][2]
    print(f"\none direct request: {one:.0f} ms (median); fixed cost of a CLI run: "
          f"{startup * 1000:.0f} ms, subtracted from wall time for req_per_s")


async def measure(args: argparse.Namespace, home: Path) -> list[tuple[Any, ...]]:
    """Rows of figures; the first row is ("_", one request ms, fixed CLI cost s)."""
    n = args.requests
    levels = [int(c) for c in args.concurrency.split(",")]
    jobs = home / "requests.jsonl"
    requests_file(n, args.seed, jobs)
    rows: list[tuple[Any, ...]] = []
    async with emulator_process(FIRST_TOKEN_MS, PER_CHUNK_MS, fim_text=ANSWER) as base_url:
        env = cli_env(base_url, home)
        one = await direct_latency_ms(base_url, 2 if args.quick else 8)
        single = home / "single.jsonl"
        single.write_text(jobs.read_text("utf-8").splitlines()[0] + "\n", "utf-8")
        # Fixed cost of a run (Python start, imports, first connection): one request's wall
        # time minus one request's latency.
        startup = median([run_cli(["complete", "--batch", str(single), "--json"], env)[0]
                          for _ in range(1 if args.quick else 3)]) - one / 1000
        for c in levels:
            wall, out = await asyncio.to_thread(
                run_cli, ["complete", "--batch", str(jobs), "--concurrency", str(c), "--json"],
                env)
            results = [json.loads(x) for x in out.splitlines() if x.strip()]
            ok = sum(1 for r in results if "error" not in r)
            ideal = math.ceil(n / c) * one / 1000
            work = max(1e-9, wall - startup)
            rows.append((f"throughput_c{c}", n / work, n / ideal, 100 * ideal / work,
                         wall, ideal, f"{ok}/{n}"))
            direct = await direct_batch_s(base_url, jobs, c)
            rows.append((f"direct_http_c{c}", n / direct, n / ideal, 100 * ideal / direct,
                         direct, ideal, "-"))
    return [("_", one, startup), *rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few seconds, for the smoke test")
    p.add_argument("--requests", type=int, default=None, help="default 64, quick 4")
    p.add_argument("--concurrency", default=None, help="comma list (default 1,8,32; quick 1,4)")
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args()
    args.requests = args.requests or (4 if args.quick else 64)
    args.concurrency = args.concurrency or ("1,4" if args.quick else "1,8,32")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
