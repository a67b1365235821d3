"""The Python API: ``complete`` / ``acomplete`` against the emulator."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading

import pytest

from conftest import TEST_KEY
from deepseek_fim_lsp import CompletionOutcome, acomplete, complete
from deepseek_fim_lsp.emulator import Emulator, LoggedRequest, Reply
from deepseek_fim_lsp.errors import AuthError, BusyError, DeepSeekError, UnreachableError
from deepseek_fim_lsp.headless.api import InputError, SettingsError
from deepseek_fim_lsp.usage import Usage

TEXT = "def add(a, b):\n    return \n\nprint(add(1, 2))\n"
CURSOR = TEXT.index("return ") + len("return ")


@pytest.fixture
def api_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Emulator:
    monkeypatch.setenv("DEEPSEEK_BASE_URL", emulator.base_url)
    monkeypatch.setenv("DEEPSEEK_API_KEY", TEST_KEY)
    monkeypatch.setenv("DEEPSEEK_FIM_STATE_DIR", str(tmp_path))
    return emulator


def fims(emu: Emulator) -> list[LoggedRequest]:
    return emu.requests("/beta/completions")


def test_complete_with_offset(api_env: Emulator) -> None:
    api_env.script(Reply(text="a + b"))
    out = complete(TEXT, CURSOR, path="add.py")
    assert isinstance(out, CompletionOutcome)
    assert (out.text, out.replace, out.model, out.cached) == ("a + b", 0, "deepseek-v4-flash",
                                                              False)
    (req,) = fims(api_env)
    assert req.body["prompt"] == "def add(a, b):\n    return "
    assert req.body["suffix"] == "\n\nprint(add(1, 2))\n"
    assert req.usage is not None
    assert out.usage == Usage(req.usage["prompt_cache_hit_tokens"],
                              req.usage["prompt_cache_miss_tokens"],
                              req.usage["completion_tokens"])
    assert out.cost_usd > 0 and out.latency_ms >= 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.text = "x"  # type: ignore[misc]


def test_line_and_column_are_1_based_characters(api_env: Emulator) -> None:
    complete('s = "😀😀ab"\n', line=1, column=9)
    assert fims(api_env)[0].body["prompt"] == 's = "😀😀a'
    complete(TEXT, line=2, column=12)
    assert fims(api_env)[1].body["prompt"] == "def add(a, b):\n    return "


def test_settings_overrides_in_snake_and_camel_case(api_env: Emulator) -> None:
    complete(TEXT, CURSOR, max_tokens=33, temperature=0.3)
    complete(TEXT, CURSOR, maxTokens=34, model="deepseek-v4-pro")
    first, second = (q.body for q in fims(api_env))
    assert (first["max_tokens"], first["temperature"]) == (33, 0.3)
    assert (second["max_tokens"], second["model"]) == (34, "deepseek-v4-pro")


async def test_acomplete(api_env: Emulator) -> None:
    api_env.script(Reply(text="a * b"))
    out = await acomplete(TEXT, line=2, column=12)
    assert out.text == "a * b"


async def test_sync_complete_inside_a_running_loop(api_env: Emulator) -> None:
    api_env.script(Reply(text="a ** b"))
    assert complete(TEXT, CURSOR).text == "a ** b"  # runs its own loop in a worker thread


def test_complete_from_a_thread_without_a_loop(api_env: Emulator) -> None:
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(complete(TEXT, CURSOR).text))
    thread.start()
    thread.join(20)
    assert results == ["pass"]


def test_nothing_to_suggest_is_empty_text(api_env: Emulator) -> None:
    api_env.script(Reply(text="  "))
    assert complete(TEXT, CURSOR).text == ""


def test_errors_are_typed(api_env: Emulator) -> None:
    with pytest.raises(AuthError) as auth:
        complete(TEXT, CURSOR, api_key="sk-test-wrong-0000")
    assert "sk-test-wrong" not in str(auth.value)
    api_env.script(Reply(status=429))
    with pytest.raises(BusyError) as busy:
        complete(TEXT, CURSOR)
    assert busy.value.retryable and busy.value.status == 429
    api_env.script(Reply(first_token_ms=3000))
    with pytest.raises(UnreachableError):
        complete(TEXT, CURSOR, request_timeout_ms=200)
    assert len(fims(api_env)) == 3  # no retries in the API


def test_bad_input_and_settings(api_env: Emulator) -> None:
    for kwargs in ({"offset": 999}, {"line": 9, "column": 1}, {"line": 2, "column": 13},
                   {"offset": 1, "line": 1, "column": 1}, {}):
        with pytest.raises(InputError):
            complete(TEXT, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        complete("a\x00b", 1)
    with pytest.raises(InputError, match="excluded"):
        complete("TOKEN=", 6, path=".env")
    with pytest.raises(SettingsError, match="maxTokens"):
        complete(TEXT, CURSOR, max_tokens=0)
    with pytest.raises(SettingsError, match="prefixTokns"):
        complete(TEXT, CURSOR, prefixTokns=5)
    with pytest.raises(DeepSeekError):  # one base class catches everything
        complete(TEXT, CURSOR, multiline="sometimes")
    assert fims(api_env) == []


def test_missing_key(api_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    with pytest.raises(DeepSeekError, match="DEEPSEEK_API_KEY") as err:
        complete(TEXT, CURSOR)
    assert err.value.kind == "missing_key"


def test_import_stays_light() -> None:
    code = ("import sys, deepseek_fim_lsp as d; "
            "assert 'httpx' not in sys.modules; "
            "assert 'deepseek_fim_lsp.completion.engine' not in sys.modules; "
            "assert d.__version__; d.complete; "
            "assert 'deepseek_fim_lsp.headless.api' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)

