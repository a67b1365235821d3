"""Base URLs as DeepSeek's docs write them, over LSP against the emulator (issue 13): ``/beta``
and ``/v1`` work; a URL with nothing behind it is named as wrong, once, without blaming the
model settings."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from lsprotocol import types as lsp

from conftest import lsp_session
from deepseek_fim_lsp.emulator import Emulator, Reply

URI = "file:///work/example.py"
MODEL_BLAME = re.compile(r"model|maxTokens|temperature")


def blames_the_model(message: str) -> bool:
    """Whether a message points at the model settings (the URLs it names aside)."""
    return bool(MODEL_BLAME.search(re.sub(r"https?://\S+", "", message)))


async def _messages_with(s: object, words: str, timeout: float = 10) -> list[str]:
    async with asyncio.timeout(timeout):
        while True:
            found = [m.message for m in s.messages if words in m.message]  # type: ignore[attr-defined]
            if found:
                return found
            await asyncio.sleep(0.05)


async def test_lsp_accepts_beta_and_v1_forms(tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(text="1"), Reply(text="2"))
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"baseUrl": emulator.base_url + "/beta/"}) as s:
        s.open(URI, "x = \n")
        got = await s.inline(URI, 0, 4, invoked=True)
        assert got is not None and [i.insert_text for i in got.items] == ["1"]
        s.client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
            settings={"deepseekFim": {"baseUrl": emulator.base_url + "/v1"}}))
        await asyncio.sleep(0.2)
        s.insert(URI, 0, 4, "y")
        got = await s.inline(URI, 0, 5, invoked=True)
        assert got is not None and [i.insert_text for i in got.items] == ["2"]
        assert [m.message for m in s.messages] == []
        log = s.stderr()
    assert {r.path for r in emulator.requests()} <= {"/models", "/beta/completions"}
    assert len(emulator.requests("/beta/completions")) == 2
    assert f"using the API root {emulator.base_url}" in log


async def test_lsp_names_a_wrong_url_and_does_not_blame_the_model(
        tmp_path: Path, emulator: Emulator) -> None:
    wrong = emulator.base_url + "/deepseek"
    async with lsp_session(tmp_path, emulator.base_url, init_options={"baseUrl": wrong}) as s:
        # The model list is advice (a proxy may serve FIM without it): its 404 is only logged.
        assert await emulator.wait_for_async(
            lambda log: any(r.path == "/deepseek/models" and r.outcome != "in_flight"
                            for r in log), 20)
        await asyncio.sleep(0.2)
        assert s.messages == []
        s.open(URI, "x = \n")
        got = await s.inline(URI, 0, 4, invoked=True)
        assert got is not None and got.items == ()
        (msg,) = await _messages_with(s, "HTTP 404")
        s.insert(URI, 0, 4, "y")
        await s.inline(URI, 0, 5, invoked=True)
        await asyncio.sleep(0.2)
        # told once, not again for the next failed completion
        assert [m.message for m in s.messages if "HTTP 404" in m.message] == [msg]
    assert f"nothing at {wrong}/beta/completions (HTTP 404)" in msg
    assert "baseUrl" in msg and "https://api.deepseek.com" in msg
    assert not blames_the_model(msg)
