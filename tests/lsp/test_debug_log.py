"""``logLevel: debug`` says what happened (issue 13): one line per completion request — the
document's name, the trigger, the decision, token figures and latency — and never code text or
the key. Over LSP and through the CLI, against the emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import lsp_session
from debug_lines import CODE, assert_clean, lines_in
from deepseek_fim_lsp.emulator import Emulator, Reply

URI = "file:///work/some/dir/secret_module.py"
async def test_lsp_debug_says_one_line_per_request(tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(text="a_b_c_d)"))
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"logLevel": "debug", "debounceMs": 0}) as s:
        s.open(URI, CODE)
        first = await s.inline(URI, 0, len(CODE) - 1, invoked=True)
        assert first is not None and first.items
        again = await s.inline(URI, 0, len(CODE) - 1)  # the same state: from the cache
        assert again is not None and again.items
        s.insert(URI, 0, len(CODE) - 1, "a")  # typing the suggestion: type-through
        through = await s.inline(URI, 0, len(CODE))
        assert through is not None and through.items
        await asyncio.sleep(0.2)
        client_log = "\n".join(m.message for m in s.log_messages)
        stderr = s.stderr()
    for text in (client_log, stderr):
        found = lines_in(text)
        assert [m["decision"] for m in found] == ["backend", "cache", "type_through"], text
        assert all(m["doc"] == "secret_module.py" for m in found)
        assert [m["trigger"] for m in found] == ["invoked", "automatic", "automatic"]
        backend = found[0]
        assert int(backend["prompt"]) > 0 and backend["suffix"] != "-"
        assert backend["hit"] != "-" and backend["items"] == "1"
        assert found[2]["hit"] == "-"  # nothing was sent
    assert_clean(client_log)
    assert_clean(stderr)


async def test_lsp_info_level_says_nothing_per_request(tmp_path: Path,
                                                       emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, CODE)
        await s.inline(URI, 0, len(CODE) - 1, invoked=True)
        await asyncio.sleep(0.1)
        assert lines_in(s.stderr()) == []
        assert lines_in("\n".join(m.message for m in s.log_messages)) == []


async def test_lsp_debug_line_for_an_error(tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(status=500))
    async with lsp_session(tmp_path, emulator.base_url, init_options={"logLevel": "debug"}) as s:
        s.open(URI, CODE)
        await s.inline(URI, 0, len(CODE) - 1, invoked=True)
        await asyncio.sleep(0.1)
        (line,) = lines_in(s.stderr())
    assert line["decision"] == "error"
