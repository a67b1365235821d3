"""A model that is served but not listed (issue 13): ``GET /models`` is advisory. A configured
model missing from the list is logged, not shown; the user hears about the model only when a
request fails with the API's unknown-model error, and then with the ids on offer."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import TEST_KEY, lsp_session
from deepseek_fim_lsp.emulator import Emulator, Reply
from test_cli import run

URI = "file:///work/example.py"
#: As the newest docs have it: two ids listed, the older one still answered.
LISTED = ("deepseek-flash", "deepseek-v4-pro")
ALIAS = "deepseek-v4-flash"


@pytest.fixture
def newer_api() -> Iterator[Emulator]:
    with Emulator(api_keys=(TEST_KEY,), models=LISTED, aliases=(ALIAS,)) as emu:
        yield emu


# --- the emulator ----------------------------------------------------------------------------


def test_emulator_serves_an_alias_it_does_not_list(newer_api: Emulator) -> None:
    auth = {"Authorization": f"Bearer {TEST_KEY}"}
    with httpx.Client(base_url=newer_api.base_url, headers=auth) as c:
        listed = [m["id"] for m in c.get("/models").json()["data"]]
        assert listed == list(LISTED)
        for model in (ALIAS, *LISTED):
            r = c.post("/beta/completions", json={"model": model, "prompt": "x = "})
            assert r.status_code == 200, r.text
            r = c.post("/chat/completions", json={"model": model, "messages": [
                {"role": "user", "content": "hi"}]})
            assert r.status_code == 200, r.text
        r = c.post("/beta/completions", json={"model": "deepseek-chat", "prompt": "x"})
        assert r.status_code == 400 and r.json()["error"]["message"] == "Model Not Exist"
        # scripted from outside too
        c.post("/_emulator/config", json={"aliases": ["deepseek-chat"]}).raise_for_status()
        assert c.post("/beta/completions", json={"model": "deepseek-chat",
                                                 "prompt": "x"}).status_code == 200
        assert [m["id"] for m in c.get("/models").json()["data"]] == list(LISTED)
        assert c.post("/_emulator/config", json={"aliases": "x"}).status_code == 400


def test_emulate_command_takes_aliases(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepseek_fim_lsp", "emulate", "--model", "deepseek-flash",
         "--alias", ALIAS, "--port-file", str(port_file)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if port_file.exists() and port_file.read_text():
                break
            proc.poll()
            assert proc.returncode is None
            import time
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        auth = {"Authorization": "Bearer sk-test-key"}
        with httpx.Client(base_url=base, headers=auth) as c:
            assert [m["id"] for m in c.get("/models").json()["data"]] == ["deepseek-flash"]
            assert c.post("/beta/completions",
                          json={"model": ALIAS, "prompt": "x"}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


# --- over LSP ---------------------------------------------------------------------------------


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


# --- the CLI ----------------------------------------------------------------------------------


def test_check_notes_not_listed_when_the_completion_works(newer_api: Emulator,
                                                          tmp_path: Path) -> None:
    r = run(tmp_path, newer_api.base_url, "check", "--model", ALIAS)
    assert r.code == 0, r.out
    assert "✗" not in r.out and "all good" in r.out
    (note,) = [ln for ln in r.out.splitlines() if "not listed" in ln]
    assert ALIAS in note and not note.startswith("✓")
    assert "FIM completion answered" in r.out


def test_check_and_complete_fail_on_a_model_that_is_not_served(newer_api: Emulator,
                                                               tmp_path: Path) -> None:
    r = run(tmp_path, newer_api.base_url, "check", "--model", "deepseek-chat")
    assert r.code == 4
    assert "✗ model deepseek-chat is not offered" in r.out
    assert "deepseek-flash, deepseek-v4-pro" in r.out
    (tmp_path / "a.py").write_text("x = \n", encoding="utf-8")
    r = run(tmp_path, newer_api.base_url, "complete", "a.py:1:5", "--model", "deepseek-chat",
            "--json")
    assert r.code == 4 and r.out == ""
    assert "does not offer the model 'deepseek-chat'" in r.err
    assert "deepseek-flash, deepseek-v4-pro" in r.err
    r = run(tmp_path, newer_api.base_url, "complete", "a.py:1:5", "--model", ALIAS, "--json")
    assert r.code == 0 and json.loads(r.out)["model"] == ALIAS
