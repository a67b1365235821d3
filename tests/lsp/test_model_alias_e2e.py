"""A model that is served but not listed, over LSP against the emulator (issue 13): ``GET
/models`` is advisory. A configured model missing from the list is logged, not shown; the user
hears about the model only when a request fails with the API's unknown-model error, and then
with the ids on offer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import TEST_KEY, lsp_session
from deepseek_fim_lsp.emulator import Emulator, Reply

URI = "file:///work/example.py"
#: As the newest docs have it: two ids listed, the older one still answered.
LISTED = ("deepseek-flash", "deepseek-v4-pro")
ALIAS = "deepseek-v4-flash"


@pytest.fixture
def newer_api() -> Iterator[Emulator]:
    with Emulator(api_keys=(TEST_KEY,), models=LISTED, aliases=(ALIAS,)) as emu:
        yield emu


async def test_lsp_a_served_alias_is_logged_not_shown(tmp_path: Path,
                                                      newer_api: Emulator) -> None:
    newer_api.script(Reply(text="1"))
    async with lsp_session(tmp_path, newer_api.base_url, init_options={"model": ALIAS}) as s:
        assert await newer_api.wait_for_async(
            lambda log: any(r.path == "/models" and r.outcome == "completed" for r in log), 20)
        await asyncio.sleep(0.3)
        s.open(URI, "x = \n")
        got = await s.inline(URI, 0, 4, invoked=True)
        assert got is not None and [i.insert_text for i in got.items] == ["1"]
        assert s.messages == []
        stats = await s.client.protocol.send_request_async("deepseekFim/stats", {})
        assert stats.modelAvailable is True  # the request proved it
        log = s.stderr()
    assert f"model {ALIAS} is not listed" in log


async def test_lsp_an_unknown_model_is_told_when_a_request_fails(tmp_path: Path,
                                                                 newer_api: Emulator) -> None:
    async with lsp_session(tmp_path, newer_api.base_url,
                           init_options={"model": "deepseek-chat"}) as s:
        assert await newer_api.wait_for_async(
            lambda log: any(r.path == "/models" and r.outcome == "completed" for r in log), 20)
        await asyncio.sleep(0.3)
        assert s.messages == []  # not listed is not an error: nothing asked yet
        s.open(URI, "x = \n")
        got = await s.inline(URI, 0, 4, invoked=True)
        assert got is not None and got.items == ()
        async with asyncio.timeout(10):
            while not s.messages:
                await asyncio.sleep(0.05)
        (msg,) = [m.message for m in s.messages]
        assert "does not offer the model 'deepseek-chat'" in msg
        assert "deepseek-flash, deepseek-v4-pro" in msg and "deepseekFim.model" in msg
        # told once; automatic requests stop until the settings change
        s.insert(URI, 0, 4, "y")
        await s.inline(URI, 0, 5)
        await asyncio.sleep(0.2)
        assert len(s.messages) == 1
        assert len(newer_api.requests("/beta/completions")) == 1
        stats = await s.client.protocol.send_request_async("deepseekFim/stats", {})
        assert stats.modelAvailable is False
