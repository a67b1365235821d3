"""Requests the typing replay showed to be waste, through the real server over stdio: a prefetch
past a suggestion whose model goes on with the code below, the same state asked twice after an
empty answer, a glance away from the suggestion being typed, a prefetch for a blank line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from conftest import Session, lsp_session
from deepseek_fim_lsp.emulator import Emulator, Reply, Rule

URI = "file:///work/economy.py"


def prompts(emu: Emulator) -> list[Any]:
    return [r.body["prompt"] for r in emu.requests("/beta/completions")]


def shown(result: lsp.InlineCompletionList | None) -> list[str]:
    assert result is not None
    return [str(i.insert_text) for i in result.items]


async def test_no_prefetch_past_a_line_whose_next_line_is_the_code_below(
        tmp_path: Path, emulator: Emulator) -> None:
    """The model answers `1`, then `return x` — the line already below: the gap is filled,
    and asking what follows `x = 1` would only get `return x` again."""
    emulator.fim_responder = lambda body: "1\n    return x"
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "def f():\n    x = \n    return x\n")
        assert shown(await s.inline(URI, 1, 8)) == ["1"]
        s.insert(URI, 1, 8, "1")
        assert shown(await s.inline(URI, 1, 9)) == []
        await asyncio.sleep(0.3)
        assert prompts(emulator) == ["def f():\n    x = "]


async def test_a_state_answered_empty_is_not_asked_again(tmp_path: Path,
                                                        emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: ""
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = 1\n")
        assert shown(await s.inline(URI, 0, 5)) == []
        assert shown(await s.inline(URI, 0, 5)) == []
        assert prompts(emulator) == ["x = 1"]


async def test_a_glance_away_from_the_suggestion_being_typed_costs_nothing(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.add_rule(Rule(reply=Reply(text="1 + 2"), prompt_endswith="y = "))
    emulator.fim_responder = lambda body: ""
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 200}) as s:
        s.open(URI, "import os\ny = \n")
        assert shown(await s.inline(URI, 1, 4)) == ["1 + 2"]
        s.insert(URI, 1, 4, "1")
        assert shown(await s.inline(URI, 1, 5)) == [" + 2"]
        # A look at the line above for 0.8 s (three debounces would have asked there), back.
        glance = asyncio.ensure_future(s.inline(URI, 0, 9))
        await asyncio.sleep(0.8)
        assert shown(await s.inline(URI, 1, 5)) == [" + 2"]
        assert shown(await glance) == []
        assert "import os" not in prompts(emulator)
        # Resting there is another matter: it asks.
        assert shown(await s.inline(URI, 0, 9)) == []
        assert "import os" in prompts(emulator)


async def test_a_blank_line_the_model_ends_with_is_held_and_asked_past(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.add_rule(Rule(reply=Reply(text="fn h() {}"), prompt_endswith="}\n\n"))
    emulator.add_rule(Rule(reply=Reply(text="\n}\n"), prompt_endswith="g()"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "fn f() {\n    g()\n", "rust")
        assert shown(await s.inline(URI, 1, 7)) == ["\n}"]
        s.insert(URI, 1, 7, "\n")
        assert shown(await s.inline(URI, 2, 0)) == ["}"]
        s.insert(URI, 2, 0, "}")
        await _settle(s, emulator, 2)
        s.insert(URI, 2, 1, "\n")
        assert shown(await s.inline(URI, 3, 0)) == ["\nfn h() {}"]
        assert prompts(emulator) == ["fn f() {\n    g()", "fn f() {\n    g()\n}\n\n"]


async def _settle(s: Session, emulator: Emulator, requests: int) -> None:
    """Wait until the emulator has answered ``requests`` FIM requests (a prefetch in flight)."""
    await s.inline(URI, 2, 1)
    assert emulator.wait_for(lambda log: len([r for r in log if r.outcome == "completed"
                                              and r.path == "/beta/completions"]) >= requests, 10)
    await asyncio.sleep(0.3)
