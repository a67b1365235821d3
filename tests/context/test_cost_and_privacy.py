"""Context and cost: prefix-cache hits, exclusions, secret redaction, budgets, manual mode.

The engine runs in-process here (it is LSP-free) but talks real HTTP to the emulator, whose
deterministic prefix cache does the accounting the real API would.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from conftest import TEST_KEY, lsp_session
from deepseek_fim_lsp import config
from deepseek_fim_lsp.completion.engine import Engine
from deepseek_fim_lsp.completion.types import CompletionRequest
from deepseek_fim_lsp.emulator import Emulator, Reply
from deepseek_fim_lsp.usage import UsageLedger


def make_file(lines: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    names = ["total", "count", "value", "index", "result", "buffer", "offset", "limit"]
    out = []
    for i in range(lines):
        if i % 12 == 0:
            out.append(f"def step_{i}({rng.choice(names)}, {rng.choice(names)}):")
        else:
            a, b = rng.choice(names), rng.choice(names)
            out.append(f"    {a} = {b} + {rng.randint(0, 999)}  # line {i}")
    return "\n".join(out) + "\n"


def hit_ratio(emu: Emulator) -> float:
    hit = miss = 0
    for r in emu.requests("/beta/completions"):
        assert r.usage is not None
        hit += r.usage["prompt_cache_hit_tokens"]
        miss += r.usage["prompt_cache_miss_tokens"]
    return hit / (hit + miss)


async def replay_typing(emu: Emulator, text: str, *, sliding: bool) -> float:
    """Type the second half of ``text`` line by line below the first, asking for a completion
    at every fourth line end (a pause), and return the prompt cache-hit share of those requests.
    """
    settings, _ = config.parse({"apiKey": TEST_KEY, "baseUrl": emu.base_url, "debounceMs": 0,
                                "slidingWindow": sliding, "cacheSize": 0,
                                "invokedSuggestions": 1})
    engine = Engine(settings, ledger=UsageLedger(persist=False))
    emu.reset()
    try:
        lines = text.splitlines(keepends=True)
        half = len(lines) // 2
        doc = "".join(lines[:half])
        for i, line in enumerate(lines[half:]):
            doc += line
            if i % 4 == 0:
                await engine.complete(CompletionRequest("file:///big.py", doc, len(doc),
                                                        "python", invoked=True))
    finally:
        await engine.aclose()
    return hit_ratio(emu)


async def test_typing_through_a_2000_line_file_mostly_hits_the_prefix_cache(
        emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: "pass"
    text = make_file(2000)
    ours = await replay_typing(emulator, text, sliding=False)
    naive = await replay_typing(emulator, text, sliding=True)
    print(f"prompt cache-hit share: ours {ours:.1%}, sliding window {naive:.1%}")
    assert ours >= 0.80
    assert naive < 0.10


async def test_excluded_and_secret_text_never_leaves(tmp_path: Path, emulator: Emulator) -> None:
    secret_key = "sk-live-" + "9" * 32
    aws = "AKIA" + "ABCDEFGHIJKLMNOP"
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"exclude": ["*.secret.py"], "crossFileTokens": 2000}
                           ) as s:
        s.open("file:///proj/.env", "TOKEN=supersecretvalue\n", "dotenv")
        s.open("file:///proj/keys.secret.py", "PASSWORD = 'hunter22hunter'\n")
        s.open("file:///proj/util.py",
               f"API_KEY = \"{secret_key}\"\naws_id = \"{aws}\"\n\ndef compute_total(a, b):\n"
               "    return a + b\n")
        s.open("file:///proj/main.py", "from util import compute_total\nx = compute_total(")
        emulator.script(Reply(text="1, 2)"))
        result = await s.inline("file:///proj/main.py", 1, 18, invoked=True)
        assert result is not None and result.items
        # The excluded documents cannot be the current file either.
        env_result = await s.inline("file:///proj/.env", 0, 6, invoked=True)
        assert env_result is not None and env_result.items == ()
    bodies = [str(r.body) for r in emulator.requests("/beta/completions")]
    assert len(bodies) == 1
    sent = bodies[0]
    assert "compute_total" in sent and "util.py" in sent  # the cross-file snippet went along
    for leaked in ("supersecretvalue", "hunter22hunter", secret_key, aws):
        assert leaked not in sent
    assert any(st.state == "inactive" for st in s.statuses())


async def test_daily_budget_pauses_automatic_completion_once(tmp_path: Path,
                                                             emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: "value"
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"dailyTokenBudget": 1}) as s:
        s.open("file:///a.py", "x = \n")
        first = await s.inline("file:///a.py", 0, 4)
        assert first is not None and first.items  # the first request spends the budget
        s.insert("file:///a.py", 0, 4, "1")
        for _ in range(3):
            paused = await s.inline("file:///a.py", 0, 5)
            assert paused is not None and paused.items == ()
        told = [m for m in s.messages if "budget" in m.message]
        assert len(told) == 1 and "dailyTokenBudget" in told[0].message
        assert len(emulator.requests("/beta/completions")) == 1
        invoked = await s.inline("file:///a.py", 0, 5, invoked=True)
        assert invoked is not None and invoked.items  # explicit requests still work
        assert len(emulator.requests("/beta/completions")) == 2


async def test_manual_only_mode(tmp_path: Path, emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: "value"
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"manualOnly": True}) as s:
        s.open("file:///a.py", "x = \n")
        auto = await s.inline("file:///a.py", 0, 4)
        assert auto is not None and auto.items == ()
        assert emulator.requests("/beta/completions") == []
        invoked = await s.inline("file:///a.py", 0, 4, invoked=True)
        assert invoked is not None and invoked.items


async def test_usage_and_cost_reach_stats(tmp_path: Path, emulator: Emulator) -> None:
    from conftest import stats

    emulator.fim_responder = lambda body: "value"
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open("file:///a.py", "x = \n")
        await s.inline("file:///a.py", 0, 4, invoked=True)
        st = await stats(s)
    usage = emulator.requests("/beta/completions")[0].usage
    assert usage is not None
    session = st["session"]
    assert session["requests"] == 1
    assert session["cacheMissTokens"] + session["cacheHitTokens"] == usage["prompt_tokens"]
    assert session["completionTokens"] == usage["completion_tokens"]
    assert session["costUsd"] > 0
    assert st["today"]["requests"] >= 1
    assert st["model"] == "deepseek-v4-flash"


@pytest.mark.parametrize("n", [2, 3])
async def test_invoked_trigger_returns_distinct_suggestions(tmp_path: Path, emulator: Emulator,
                                                            n: int) -> None:
    emulator.script(*[Reply(text=t) for t in ["alpha", "beta", "alpha"][:n]])
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"invokedSuggestions": n}) as s:
        s.open("file:///a.py", "x = \n")
        invoked = await s.inline("file:///a.py", 0, 4, invoked=True)
        assert invoked is not None
        texts = sorted(i.insert_text for i in invoked.items)
        assert texts == ["alpha", "beta"]  # deduplicated
        assert len(emulator.requests("/beta/completions")) == n
        emulator.script(Reply(text="gamma"), Reply(text="delta"))
        s.insert("file:///a.py", 0, 4, "y")
        auto = await s.inline("file:///a.py", 0, 5)
        assert auto is not None and [i.insert_text for i in auto.items] == ["gamma"]
        assert len(emulator.requests("/beta/completions")) == n + 1  # automatic: one request
