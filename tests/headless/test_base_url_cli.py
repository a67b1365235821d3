"""Base URLs as DeepSeek's docs write them, through ``complete``, ``check`` and the Python API
against the emulator (issue 13): ``/beta`` and ``/v1`` work; a URL with nothing behind it is
named as wrong (exit 4), without blaming the model settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_cli import run

from conftest import TEST_KEY
from deepseek_fim_lsp import complete
from deepseek_fim_lsp.emulator import Emulator, Reply
from deepseek_fim_lsp.errors import WrongUrlError

MODEL_BLAME = re.compile(r"model|maxTokens|temperature")


def blames_the_model(message: str) -> bool:
    """Whether a message points at the model settings (the URLs it names aside)."""
    return bool(MODEL_BLAME.search(re.sub(r"https?://\S+", "", message)))


def test_cli_complete_and_check_accept_the_docs_forms(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "add.py").write_text("def add(a, b):\n    return \n", encoding="utf-8")
    emulator.script(Reply(text="a + b"))
    r = run(tmp_path, emulator.base_url + "/beta", "complete", "add.py:2:12")
    assert (r.code, r.out) == (0, "a + b")
    r = run(tmp_path, emulator.base_url + "/v1/", "check")
    assert r.code == 0 and "✗" not in r.out
    assert f"API: {emulator.base_url}  model" in r.out  # the root that was used
    r = run(tmp_path, "http://127.0.0.1:9", "check", "--base-url", emulator.base_url + "/beta")
    assert r.code == 0
    assert {q.path for q in emulator.requests()} == {"/user/balance", "/models",
                                                     "/beta/completions"}


def test_cli_names_a_wrong_url(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "add.py").write_text("def add(a, b):\n    return \n", encoding="utf-8")
    wrong = emulator.base_url + "/api/deepseek"
    r = run(tmp_path, wrong, "check")
    assert r.code == 4
    assert f"nothing at {wrong}/user/balance (HTTP 404)" in r.out and "baseUrl" in r.out
    assert not blames_the_model(r.out.split("model:", 1)[1].split("\n", 1)[1])
    r = run(tmp_path, wrong, "complete", "add.py:2:12")
    assert r.code == 4 and r.out == ""
    assert f"nothing at {wrong}/beta/completions (HTTP 404)" in r.err and "baseUrl" in r.err
    assert not blames_the_model(r.err)
    assert len([q for q in emulator.requests() if q.path.endswith("/completions")]) == 1  # no retry


def test_python_api_accepts_the_docs_forms_and_names_a_wrong_url(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", TEST_KEY)
    monkeypatch.setenv("DEEPSEEK_FIM_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("DEEPSEEK_BASE_URL", emulator.base_url + "/beta")
    emulator.script(Reply(text="a + b"), Reply(text="a - b"))
    assert complete("x = ", 4).text == "a + b"  # from the environment
    assert complete("y = ", 4, base_url=emulator.base_url + "/v1/").text == "a - b"
    with pytest.raises(WrongUrlError) as info:
        complete("z = ", 4, baseUrl=emulator.base_url + "/nope")
    assert f"nothing at {emulator.base_url}/nope/beta/completions" in info.value.user_message
    assert [q.path for q in emulator.requests()] == ["/beta/completions"] * 2 + [
        "/nope/beta/completions"]
