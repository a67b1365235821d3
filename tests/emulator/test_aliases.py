"""The emulator serves model ids it does not list (aliases), as DeepSeek keeps older ids working
after they leave ``GET /models`` (issue 13)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import TEST_KEY
from deepseek_fim_lsp.emulator import Emulator

#: As the newest docs have it: two ids listed, the older one still answered.
LISTED = ("deepseek-flash", "deepseek-v4-pro")
ALIAS = "deepseek-v4-flash"


@pytest.fixture
def newer_api() -> Iterator[Emulator]:
    with Emulator(api_keys=(TEST_KEY,), models=LISTED, aliases=(ALIAS,)) as emu:
        yield emu


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
