"""Code actions against a compatible server that ignores chat prefix completion and answers in
prose around a fenced block (issue 13): over LSP, the real server, the emulator scripted so."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp
from test_actions_e2e import (
    PY,
    apply_edits,
    by_title,
    chat_requests,
    execute,
    file_edits,
    list_actions,
    range_json,
    record_apply_edit,
    rng,
    wait_until,
)

from conftest import lsp_session
from deepseek_fim_lsp.emulator import Emulator, Reply

GO = "package geo\n\nfunc Area(r float64) float64 {\n\treturn 3.14 * r * r\n}\n"


def prose(code: str, tag: str = "python") -> str:
    return (f"Here is the fix:\n```{tag}\n{code}\n```\nThis avoids the temporary variable "
            "and keeps the behaviour.")


@pytest.mark.parametrize(("command", "args", "code", "expected"), [
    ("deepseekFim.rewrite", ("use the power operator",),
     "def area(r):\n    return math.pi * r ** 2",
     PY.replace("    x = r * r\n    return math.pi * x", "    return math.pi * r ** 2")),
    ("deepseekFim.fix", ("unneeded variable",),
     "def area(r):\n    return math.pi * r * r",
     PY.replace("    x = r * r\n    return math.pi * x", "    return math.pi * r * r")),
    ("deepseekFim.document", (), '"""Area of a circle of radius ``r``."""',
     PY.replace("def area(r):\n", 'def area(r):\n    """Area of a circle of radius ``r``."""\n')),
])
@pytest.mark.parametrize("ignore_stop", [True, False])
async def test_only_the_block_is_applied(tmp_path: Path, emulator: Emulator, command: str,
                                         args: tuple[str, ...], code: str, expected: str,
                                         ignore_stop: bool) -> None:
    """The server ignores prefix completion and answers in Markdown. If it also ignores the
    stop string, the block is in that answer; if it honours it, the answer stops at the
    opening fence ("Here is the fix:") and one plain-chat request gets the Markdown."""
    uri = (tmp_path / "geo.py").as_uri()
    emulator.script(*[Reply(text=prose(code), endpoint="chat", ignore_stop=ignore_stop)] * 2)
    async with lsp_session(tmp_path, emulator.base_url) as s:
        applied = record_apply_edit(s)
        s.open(uri, PY)
        result = await execute(s, command, uri, range_json(rng((3, 0), (5, 22))), *args)
        assert result == {"applied": True, "failureReason": None}, s.messages
        new = apply_edits(PY, file_edits(applied[0].edit)[uri])
        assert new == expected
        assert "Here is" not in new and "temporary" not in new
        sent = chat_requests(emulator)
        assert sent[0].body["messages"][-1].get("prefix") is True  # the server ignored it
        if ignore_stop:
            assert len(sent) == 1
        else:
            assert len(sent) == 2 and sent[1].path == "/chat/completions"
            assert "stop" not in sent[1].body
            assert not any(m.get("prefix") for m in sent[1].body["messages"])
        assert s.messages == []


async def test_a_comment_from_prose_in_another_language(tmp_path: Path,
                                                        emulator: Emulator) -> None:
    uri = (tmp_path / "geo.go").as_uri()
    emulator.script(Reply(text="Sure! A Go doc comment:\n\n```go\n// Area returns the area of "
                               "a circle of radius r.\n```\n\nGo doc comments start with the "
                               "name.", endpoint="chat", ignore_stop=True))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        applied = record_apply_edit(s)
        s.open(uri, GO, "go")
        result = await execute(s, "deepseekFim.document", uri, range_json(rng((2, 0), (4, 1))))
        assert result == {"applied": True, "failureReason": None}, s.messages
        assert apply_edits(GO, file_edits(applied[0].edit)[uri]) == GO.replace(
            "func Area", "// Area returns the area of a circle of radius r.\nfunc Area")


async def test_tests_from_prose_go_to_their_file(tmp_path: Path, emulator: Emulator) -> None:
    src = tmp_path / "geo.py"
    src.write_text(PY)
    tests = "from geo import area\n\n\ndef test_area():\n    assert area(0) == 0"
    emulator.script(Reply(text="Here are the tests:\n\n" + prose(tests).split("\n", 1)[1],
                          endpoint="chat", ignore_stop=True))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        applied = record_apply_edit(s)
        s.open(src.as_uri(), PY)
        result = await execute(s, "deepseekFim.tests", src.as_uri(),
                               range_json(rng((3, 0), (5, 22))))
        assert result == {"applied": True, "failureReason": None}, s.messages
        changes = applied[0].edit.document_changes or []
        assert isinstance(changes[1], lsp.TextDocumentEdit)
        assert apply_edits("", list(changes[1].edits)) == tests + "\n"  # type: ignore[arg-type]


@pytest.mark.parametrize("reply", [
    "I'm sorry, but I can't help with that.",
    "In JavaScript it would be:\n```js\nconst area = r => Math.PI * r * r;\n```\n",
])
async def test_no_usable_block_applies_nothing_and_says_why(tmp_path: Path, emulator: Emulator,
                                                            reply: str) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    async with lsp_session(tmp_path, emulator.base_url) as s:
        applied = record_apply_edit(s)
        s.open(uri, PY)
        emulator.script(*[Reply(text=reply, endpoint="chat", ignore_stop=True)] * 2)
        assert await execute(s, "deepseekFim.rewrite", uri, range_json(rng((3, 0), (5, 22))),
                             "shorter") is None
        # the resolve path (the code action menu) too
        emulator.script(*[Reply(text=reply, endpoint="chat", ignore_stop=True)] * 2)
        actions = await list_actions(s, uri, rng((4, 0), (4, 0)),
                                     [lsp.Diagnostic(rng((4, 4), (4, 5)), "unneeded variable")])
        resolved = await s.client.code_action_resolve_async(by_title(actions, "DeepSeek: Fix"))
        assert resolved.edit is None
        await wait_until(lambda: len(s.messages) == 2)
        assert applied == []
        for m in s.messages:
            assert "nothing was changed" in m.message and "Python" in m.message
            assert "Traceback" not in m.message
