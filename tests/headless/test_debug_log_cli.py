"""``--log-level debug`` says what happened to a ``complete`` request (issue 13): one line with
the file name, trigger, decision, token figures and latency, never code text or the key."""

from __future__ import annotations

from pathlib import Path

from test_cli import run

from debug_lines import CODE, assert_clean, lines_in
from deepseek_fim_lsp.emulator import Emulator, Reply


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
