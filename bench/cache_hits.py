"""Prompt-cache hit share: our aligned window vs a per-keystroke sliding window.

DeepSeek bills prompt tokens that hit its prefix cache at ~2% of a miss, and a hit needs a
byte-identical start. This types into the middle of a 2,000-line file with one FIM request per
keystroke, once with the window the server builds (start aligned to line chunks) and once with a
naive window that slides with every keystroke, and prints the hit share in the emulator's
accounting (its deterministic model of the prefix cache) and the resulting prompt cost.

    .venv/bin/python bench/cache_hits.py [--quick] [--lines N] [--keystrokes N] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BENCH_KEY,
    CacheReplay,
    cost_usd,
    machine,
    prompt_cache_replay,
    table,
)
from deepseek_fim_lsp.config import Settings  # noqa: E402
from deepseek_fim_lsp.emulator import Emulator  # noqa: E402

VARIANTS = (  # (name, window, cross_file)
    ("aligned", "aligned", False),
    ("sliding_lines", "sliding", False),
    ("sliding_chars", "char_sliding", False),
    ("aligned_crossfile", "aligned", True),
)
#: Typing into real code (httpx, from the venv) with the repository context on, and without.
REPO_VARIANTS = (("httpx_client", "_client.py", False), ("httpx_client_repo", "_client.py", True))


async def measure(lines: int, keystrokes: int, seed: int) -> dict[str, CacheReplay]:
    out: dict[str, CacheReplay] = {}
    for name, window, cross in VARIANTS:
        # A fresh emulator per variant: none inherits another's cached prefixes.
        with Emulator(api_keys=(BENCH_KEY,)) as emu:
            out[name] = await prompt_cache_replay(emu.base_url, window=window, cross_file=cross,
                                                  lines=lines, keystrokes=keystrokes, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        for name, file, on in REPO_VARIANTS:
            src = Path(httpx.__file__).parent
            shutil.copytree(src, Path(tmp) / "httpx", ignore=shutil.ignore_patterns("*.pyc"))
            with Emulator(api_keys=(BENCH_KEY,)) as emu:
                out[name] = await prompt_cache_replay(
                    emu.base_url, keystrokes=keystrokes, seed=seed,
                    repo_file=Path(tmp) / "httpx" / file, repo_context=on)
            shutil.rmtree(Path(tmp) / "httpx")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few seconds, for the smoke test")
    p.add_argument("--lines", type=int, default=2000)
    p.add_argument("--keystrokes", type=int, default=None, help="default 400, quick 40")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    keystrokes = args.keystrokes or (40 if args.quick else 400)
    s = Settings()
    print(f"prompt cache: {keystrokes} keystrokes typed in the middle of a {args.lines}-line "
          f"file, one request per keystroke, default budgets (prefix {s.prefix_tokens} / "
          f"suffix {s.suffix_tokens} tokens), seed {args.seed}")
    print(f"machine: {machine()}")
    res = asyncio.run(measure(args.lines, keystrokes, args.seed))

    def prompt_cost(r: CacheReplay) -> float:
        return 1000 * cost_usd(r.hit_tokens, r.prompt_tokens - r.hit_tokens, 0) / max(1, r.requests)

    names = [v[0] for v in VARIANTS] + [v[0] for v in REPO_VARIANTS]
    rows = [
        ("prompt_cache_hit_pct", *(100 * res[n].hit_share for n in names)),
        ("requests", *(float(res[n].requests) for n in names)),
        ("prompt_tokens_per_request", *(res[n].prompt_tokens / max(1, res[n].requests)
                                        for n in names)),
        ("prompt_usd_per_1000_requests", *(prompt_cost(res[n]) for n in names)),
    ]
    print()
    print(table(rows, ["figure", *names]))
    a, s = res["aligned"], res["sliding_chars"]
    ratio = a.hit_share / s.hit_share if s.hit_share else float("inf")
    print(f"\naligned/sliding_chars hit-share ratio: {ratio:.1f}; the suffix (never reusable "
          "after an edit before it) caps the share at about prefix/(prefix+suffix) tokens")


if __name__ == "__main__":
    main()
