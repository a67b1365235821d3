"""``--log-level debug`` says what happened to a ``complete`` request (issue 13): one line with
the file name, trigger, decision, token figures and latency, never code text or the key."""

from __future__ import annotations

import re
from pathlib import Path

from test_cli import run

from conftest import TEST_KEY
from deepseek_fim_lsp.emulator import Emulator, Reply

CODE = "TOKEN_SENTINEL_VALUE = compute_something_private(\n"
LINE = re.compile(
    r"completion doc=(?P<doc>\S+) trigger=(?P<trigger>\w+) decision=(?P<decision>\w+) "
    r"prompt_tokens=(?P<prompt>\d+|-) suffix_tokens=(?P<suffix>\d+|-) "
    r"cache_hit_tokens=(?P<hit>\d+|-) items=(?P<items>\d+) latency_ms=(?P<ms>\d+)")


def lines_in(text: str) -> list[re.Match[str]]:
    return [m for m in map(LINE.search, text.splitlines()) if m]


def assert_clean(text: str) -> None:
    for secret in ("TOKEN_SENTINEL", "compute_something", "private", "/work/some/dir",
                   "secret_module.py:", TEST_KEY, "a_b_c_d"):
        assert secret not in text.replace("doc=secret_module.py", ""), secret


def test_cli_complete_debug_line(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "secret_module.py").write_text(CODE, encoding="utf-8")
    emulator.script(Reply(text="a_b_c_d)"))
    r = run(tmp_path, emulator.base_url, "complete", "secret_module.py:1:50",
            "--log-level", "debug")
    assert r.code == 0 and r.out == "a_b_c_d)"
    (line,) = lines_in(r.err)
    assert (line["doc"], line["trigger"], line["decision"]) == (
        "secret_module.py", "invoked", "backend")
    assert_clean(r.err)
    r = run(tmp_path, emulator.base_url, "complete", "secret_module.py:1:50")
    assert lines_in(r.err) == []  # the default level says nothing per request
