"""The server under abuse: malformed protocol input, backend faults, floods of requests.

The protocol tests talk raw bytes to the real server process (framing messages by hand), so
they can send what no well-behaved client library would; everything the server writes to
stdout is parsed as LSP frames, so stray prints or broken framing fail the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TEST_KEY, Session, lsp_session, server_env
from deepseek_fim_lsp.emulator import Emulator, Reply
from fake_apis import EndlessApi

URI = "file:///work/hard.py"
WAIT = 30.0  # generous upper bound for any single answer on a loaded 2-core machine


class RawServer:
    """The server process over stdio, with messages framed and parsed by hand."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.frames: list[dict[str, Any]] = []
        self.bad_stdout: list[str] = []
        self._responses: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._ids = 0
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())
        self.stderr_task = asyncio.ensure_future(self._drain_stderr())
        self.stderr = b""

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr += chunk

    async def _read(self) -> None:
        """Parse stdout as LSP frames; anything else is recorded as a protocol violation."""
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = await out.readline()
                if not line:
                    return
                if line == b"\r\n":
                    break
                name, sep, value = line.decode("ascii", "replace").partition(":")
                if not sep or not line.endswith(b"\r\n"):
                    self.bad_stdout.append(repr(line))
                    continue
                if name.lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                self.bad_stdout.append("frame without Content-Length")
                continue
            body = await out.readexactly(length)
            try:
                msg = json.loads(body)
            except ValueError:
                self.bad_stdout.append(repr(body[:200]))
                continue
            if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
                self.bad_stdout.append(repr(body[:200]))
                continue
            self.frames.append(msg)
            if "method" in msg and "id" in msg:  # a request from the server: answer null
                self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
            elif "id" in msg and msg["id"] in self._responses:
                fut = self._responses.pop(msg["id"])
                if not fut.done():
                    fut.set_result(msg)
            self._changed.set()

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)

    def send_body(self, body: bytes) -> None:
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, msg: Any) -> None:
        self.send_body(json.dumps(msg).encode())

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    async def request(self, method: str, params: Any = None, *,
                      timeout: float = WAIT) -> dict[str, Any]:
        """Send a request and return the whole response message (result or error)."""
        self._ids += 1
        msg_id = self._ids
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._responses[msg_id] = fut
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return await asyncio.wait_for(fut, timeout)

    def notifications(self, method: str) -> list[Any]:
        return [f.get("params") for f in self.frames if f.get("method") == method]

    async def wait_exit(self, timeout: float = WAIT) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        for task in (self._reader, self.stderr_task):
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 5)


@contextlib.asynccontextmanager
async def raw_server(tmp_path: Path, base_url: str, *, initialize: bool = True,
                     options: dict[str, Any] | None = None) -> AsyncIterator[RawServer]:
    env = server_env(base_url, DEEPSEEK_FIM_STATE_DIR=str(tmp_path / "state"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deepseek_fim_lsp",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, limit=1 << 24)
    server = RawServer(proc)
    try:
        if initialize:
            init = await server.request("initialize", {
                "processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {},
                "initializationOptions": {"debounceMs": 0, "invokedSuggestions": 1,
                                          **(options or {})}})
            assert "result" in init and init["result"]["capabilities"]
            server.notify("initialized", {})
        yield server
        assert server.bad_stdout == [], "non-protocol output on stdout"
        assert TEST_KEY.encode() not in server.stderr
    finally:
        await server.close()


def did_open(uri: str, text: str, language: str = "python") -> dict[str, Any]:
    return {"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}


def inline_params(uri: str, line: int, character: int, invoked: bool = True) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character},
            "context": {"triggerKind": 1 if invoked else 2}}


def items(response: dict[str, Any]) -> list[str]:
    """Insert texts of an inlineCompletion response (which must be a result, not an error)."""
    assert "result" in response, response
    return [i["insertText"] for i in (response["result"] or {}).get("items", [])]


async def still_answers(server: RawServer, emu: Emulator, text: str = "z") -> None:
    """The liveness probe after each abuse: a fresh document gets a real suggestion."""
    uri = f"file:///work/probe{server._ids}.py"
    server.notify("textDocument/didOpen", did_open(uri, "value = \n"))
    emu.script(Reply(text=text))
    response = await server.request("textDocument/inlineCompletion", inline_params(uri, 0, 8))
    assert items(response) == [text]


# --- malformed protocol input -----------------------------------------------------------------


async def test_malformed_messages_are_survived(tmp_path: Path, emulator: Emulator) -> None:
    """Each malformed request gets its JSON-RPC error (-32700 for what is not JSON, -32600 for
    what is not a request), with its id when one can be read, and the next request an answer."""
    async with raw_server(tmp_path, emulator.base_url) as server:
        await still_answers(server, emulator, "a")
        truncated = "{\"jsonrpc\": \"2.0\", \"method\": \"\u00e9\", \"id\": \"x\"}".encode()[:-3]
        cases: list[tuple[bytes, int, Any]] = [
            (b"{this is not json", -32700, None),
            (b"[1, 2, 3]", -32600, None),
            (b"42", -32600, None),
            (b'"a string"', -32600, None),
            (b"null", -32600, None),
            (truncated, -32700, None),  # truncated body inside a frame
            (b'{"jsonrpc": "2.0", "id": "no-method"}', -32600, "no-method"),  # neither
            (b'{"jsonrpc": "1.0", "id": 7, "method": "deepseekFim/stats"}', -32600, 7),
        ]
        for n, (body, code, msg_id) in enumerate(cases):
            before = len(server.frames)
            server.send_body(body)
            await still_answers(server, emulator, f"v{n}")
            errors = [f for f in server.frames[before:] if "error" in f]
            assert len(errors) == 1, (body, errors)
            assert errors[0]["error"]["code"] == code and errors[0]["id"] == msg_id, body
            assert "id" in errors[0]
        # The user hears once, in plain words; the details go to the log.
        shown = [p["message"] for p in server.notifications("window/showMessage")]
        assert len(shown) <= 1, shown
        assert not any("attribute" in m or "Expecting" in m for m in shown), shown
        logged = " ".join(p["message"] for p in server.notifications("window/logMessage"))
        assert "Expecting property name" in logged


async def test_framing_variants_and_request_ids(tmp_path: Path, emulator: Emulator) -> None:
    """Legal but unusual framing: extra headers, messages split into single bytes or sent
    together in one write, string and zero ids, cancels for unknown ids."""
    async with raw_server(tmp_path, emulator.base_url) as server:
        def frame(msg: dict[str, Any], content_type_first: bool = False) -> bytes:
            body = json.dumps(msg).encode()
            ctype = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
            length = b"Content-Length: %d\r\n" % len(body)
            head = ctype + length if content_type_first else length + ctype
            return head + b"\r\n" + body

        loop = asyncio.get_running_loop()
        futures = {i: loop.create_future() for i in ("s-1", 0, 2**31 - 1)}
        server._responses.update(futures)
        stats = {"jsonrpc": "2.0", "method": "deepseekFim/stats", "params": {}}
        one = frame({**stats, "id": "s-1"}, content_type_first=True)
        for i in range(len(one)):  # one byte at a time
            server.write(one[i:i + 1])
            if i % 16 == 0:
                assert server.proc.stdin is not None
                await server.proc.stdin.drain()
        server.write(frame({**stats, "id": 0}) + frame({**stats, "id": 2**31 - 1}))
        for fut in futures.values():
            answer = await asyncio.wait_for(fut, WAIT)
            assert answer["result"]["enabled"] is True
        server.notify("$/cancelRequest", {"id": 424242})
        server.notify("$/cancelRequest", {"id": "never-sent"})
        server.notify("textDocument/didOpen", did_open(URI, "a = \n"))
        server.notify("textDocument/didOpen", did_open(URI, "b = \n"))  # opened twice: last wins
        emulator.script(Reply(text="1"))
        assert items(await server.request("textDocument/inlineCompletion",
                                          inline_params(URI, 0, 4))) == ["1"]
        assert emulator.requests("/beta/completions")[-1].body["prompt"] == "b = "
        server.notify("textDocument/didClose", {"textDocument": {"uri": URI}})
        assert items(await server.request("textDocument/inlineCompletion",
                                          inline_params(URI, 0, 4))) == []
        await still_answers(server, emulator)


async def test_unknown_methods(tmp_path: Path, emulator: Emulator) -> None:
    async with raw_server(tmp_path, emulator.base_url) as server:
        response = await server.request("deepseekFim/noSuchThing", {})
        assert response["error"]["code"] == -32601  # MethodNotFound
        response = await server.request("textDocument/noSuchThing", {"x": 1})
        assert response["error"]["code"] == -32601
        before = len(server.frames)
        server.notify("deepseekFim/noSuchNotification", {"x": 1})
        server.notify("$/noSuchNotification", {"x": 1})
        await still_answers(server, emulator)
        answered_ids = [f.get("id") for f in server.frames[before:] if "id" in f]
        assert answered_ids == [server._ids], "a notification must never get a response"


@pytest.mark.parametrize("params", [
    None,
    {},
    [],
    "oops",
    {"textDocument": {"uri": URI}},
    {"textDocument": {"uri": URI}, "position": {"line": "zero", "character": 0},
     "context": {"triggerKind": 1}},
    {"textDocument": {"uri": URI}, "position": {"line": -1, "character": -5},
     "context": {"triggerKind": 1}},
    {"textDocument": 5, "position": {"line": 0, "character": 0}, "context": {"triggerKind": 1}},
    {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0},
     "context": {"triggerKind": 99}},
    {"textDocument": {"uri": URI}, "position": [0, 0], "context": {"triggerKind": 1}},
    {"textDocument": {"uri": URI}, "position": {"line": 2**40, "character": 2**40},
     "context": {"triggerKind": 1}},
])
async def test_wrong_inline_params_get_an_answer(tmp_path: Path, emulator: Emulator,
                                                 params: Any) -> None:
    async with raw_server(tmp_path, emulator.base_url) as server:
        server.notify("textDocument/didOpen", did_open(URI, "x = 1\n"))
        response = await server.request("textDocument/inlineCompletion", params)
        assert ("error" in response) != ("result" in response)
        if "result" in response:
            assert items(response) == []
        assert emulator.requests("/beta/completions") == []
        await still_answers(server, emulator)


async def test_bad_positions_documents_and_changes(tmp_path: Path, emulator: Emulator) -> None:
    async with raw_server(tmp_path, emulator.base_url) as server:
        server.notify("textDocument/didOpen", did_open(URI, "x = 1\ny = 2\n"))
        for line, char in [(2, 0), (3, 0), (1000, 0), (0, 10**6)]:
            response = await server.request("textDocument/inlineCompletion",
                                            inline_params(URI, line, char))
            if line >= 3:
                assert items(response) == [], (line, char)
        never = "file:///work/never-opened.py"
        assert items(await server.request("textDocument/inlineCompletion",
                                          inline_params(never, 0, 0))) == []
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": never, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 0, "character": 0},
                                          "end": {"line": 0, "character": 0}}, "text": "x"}]})
        server.notify("textDocument/didClose", {"textDocument": {"uri": never}})
        # An edit whose range lies past the end is ignored; the document stays usable.
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": URI, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 50, "character": 0},
                                          "end": {"line": 60, "character": 0}}, "text": "!"}]})
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": URI, "version": 3}, "contentChanges": "not a list"})
        emulator.script(Reply(text="3"))
        response = await server.request("textDocument/inlineCompletion",
                                        inline_params(URI, 1, 4))
        assert items(response) == ["3"]
        assert emulator.requests("/beta/completions")[-1].body["prompt"] == "x = 1\ny = "
        await still_answers(server, emulator)


async def test_huge_and_binary_documents(tmp_path: Path, emulator: Emulator) -> None:
    huge = ("x = 1  # padding padding padding padding padding padding padding\n" * 160_000)
    assert len(huge) > 10_000_000
    async with raw_server(tmp_path, emulator.base_url) as server:
        big = "file:///work/huge.py"
        server.notify("textDocument/didOpen", did_open(big, huge))
        emulator.script(Reply(text="2"))
        response = await server.request("textDocument/inlineCompletion",
                                        inline_params(big, 80_000, 4))
        assert "result" in response or "error" in response
        for req in emulator.requests("/beta/completions"):
            assert len(req.body["prompt"]) + len(req.body["suffix"]) < 200_000
        binary = "file:///work/blob.bin"
        server.notify("textDocument/didOpen", did_open(binary, "ab\x00\x01\x02\ufffd\x00cd",
                                                       "plaintext"))
        response = await server.request("textDocument/inlineCompletion",
                                        inline_params(binary, 0, 2))
        assert items(response) == []
        sent = len(emulator.requests("/beta/completions"))
        await still_answers(server, emulator)
        assert all("\x00" not in r.body["prompt"] + r.body["suffix"]
                   for r in emulator.requests("/beta/completions")[sent:])


async def test_huge_single_line_with_non_ascii(tmp_path: Path, emulator: Emulator) -> None:
    """A 10 MB minified line with emoji: edits and completions at its end land exactly."""
    line = "😀" + "a=1;" * 2_500_000
    end = len(line.encode("utf-16-le")) // 2
    async with raw_server(tmp_path, emulator.base_url) as server:
        uri = "file:///work/bundle.min.js"
        server.notify("textDocument/didOpen", did_open(uri, line + "\n", "javascript"))
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 0, "character": end},
                                          "end": {"line": 0, "character": end}},
                                "text": "b="}]})
        emulator.script(Reply(text="2;"))
        response = await server.request("textDocument/inlineCompletion",
                                        inline_params(uri, 0, end + 2), timeout=60)
        assert items(response) == ["2;"]
        req = emulator.requests("/beta/completions")[-1]
        assert req.body["prompt"].endswith("a=1;b=") and req.body["suffix"] == "\n"
        (item,) = response["result"]["items"]
        assert item["range"]["start"] == {"line": 0, "character": end + 2}
        await still_answers(server, emulator)


async def test_shutdown_then_exit_is_code_zero(tmp_path: Path, emulator: Emulator) -> None:
    async with raw_server(tmp_path, emulator.base_url) as server:
        await still_answers(server, emulator)
        response = await server.request("shutdown")
        assert "result" in response and response["result"] is None
        server.notify("exit")
        assert await server.wait_exit() == 0


async def test_shutdown_while_a_request_hangs(tmp_path: Path, emulator: Emulator) -> None:
    """Shutdown ends an in-flight completion (answered, not left pending) and its HTTP call."""
    async with raw_server(tmp_path, emulator.base_url,
                          options={"requestTimeoutMs": 120000}) as server:
        server.notify("textDocument/didOpen", did_open(URI, "x = \n"))
        emulator.script(Reply(hang=True))
        pending = asyncio.ensure_future(server.request("textDocument/inlineCompletion",
                                                       inline_params(URI, 0, 4)))
        assert await emulator.wait_for_async(
            lambda log: any(r.path == "/beta/completions" for r in log), timeout=WAIT)
        response = await server.request("shutdown")
        assert "result" in response
        answer = await asyncio.wait_for(pending, WAIT)
        assert "error" in answer or items(answer) == []
        assert await emulator.wait_for_async(lambda log: any(
            r.outcome == "client_disconnected" for r in log
            if r.path == "/beta/completions"), timeout=WAIT)
        server.notify("exit")
        assert await server.wait_exit() == 0


async def test_exit_without_shutdown_is_code_one(tmp_path: Path, emulator: Emulator) -> None:
    async with raw_server(tmp_path, emulator.base_url) as server:
        await still_answers(server, emulator)
        server.notify("exit")
        assert await server.wait_exit() == 1


async def test_closed_stdin_ends_the_process(tmp_path: Path, emulator: Emulator) -> None:
    async with raw_server(tmp_path, emulator.base_url) as server:
        assert server.proc.stdin is not None
        server.proc.stdin.close()
        assert await server.wait_exit() is not None


# --- backend faults, through the real server --------------------------------------------------


def told_once_each(s: Session) -> list[str]:
    """The showMessage texts; each problem must be told at most once."""
    shown = [m.message for m in s.messages]
    assert len(shown) == len(set(shown)), shown
    assert all(TEST_KEY not in m for m in shown)
    assert TEST_KEY not in s.stderr()
    return shown


async def ask(s: Session, line: int, character: int, *, invoked: bool = True,
              uri: str = URI) -> list[str]:
    result = await asyncio.wait_for(s.inline(uri, line, character, invoked=invoked), WAIT)
    assert result is not None
    return [i.insert_text if isinstance(i.insert_text, str) else i.insert_text.value
            for i in result.items]


async def recovers(s: Session, emu: Emulator, text: str = "ok") -> None:
    """After a fault: a new state in a new document gets a real suggestion."""
    uri = f"file:///work/after{len(s.texts)}.py"
    s.open(uri, "after = \n")
    emu.script(Reply(text=text))
    assert await ask(s, 0, 8, uri=uri) == [text]


async def test_plain_text_422_is_told_once(tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        for _ in range(3):
            emulator.script(Reply(status=422, plain_text_error=True,
                                  error_message="max_tokens is out of range"))
            assert await ask(s, 0, 4) == []
        shown = told_once_each(s)
        (msg,) = [m for m in shown if "HTTP 422" in m]
        assert "max_tokens is out of range" in msg
        assert emulator.requests("/beta/completions")[0].status == 422
        await recovers(s, emulator)


async def test_stream_cut_midway(tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        for column in (4, 4):
            emulator.script(Reply(chunks=["alpha", " beta", " gamma", " delta"],
                                  cut_after_chunks=2))
            assert await ask(s, 0, column) == []
        assert [r.outcome for r in emulator.requests("/beta/completions")] == ["cut", "cut"]
        shown = told_once_each(s)
        assert len([m for m in shown if "broke off" in m]) == 1
        await recovers(s, emulator)


async def test_hanging_connection_ends_at_the_timeout(tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"requestTimeoutMs": 300}) as s:
        s.open(URI, "x = \n")
        emulator.script(Reply(hang=True), Reply(hang=True, keepalive=3))
        assert await ask(s, 0, 4) == []
        s.insert(URI, 0, 4, "1")
        assert await ask(s, 0, 5) == []
        told_once_each(s)
        await recovers(s, emulator)


async def test_garbage_lines_before_the_chunks(tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        emulator.script(Reply(text="compute()", garbage_lines=[
            "garbage", "{not json", "data: {broken", "event: nonsense", "data: 12", "data: []",
            "\x00\x01\x02", "data: {\"choices\": \"not a list\"}"]))
        assert await ask(s, 0, 4) == ["compute()"]
        assert not any("broke off" in m for m in told_once_each(s))


async def test_keepalives_for_a_while_then_content(tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"requestTimeoutMs": 20000}) as s:
        s.open(URI, "x = \n")
        emulator.script(Reply(text="patience", keepalive=50, keepalive_interval_ms=20))
        assert await ask(s, 0, 4) == ["patience"]
        assert emulator.requests("/beta/completions")[0].outcome == "completed"


async def test_long_reply_is_not_read_to_the_end(tmp_path: Path, emulator: Emulator) -> None:
    """A reply of thousands of lines, slowly streamed: reading stops after the first line."""
    lines = [f"value_{i} = compute({i})\n" for i in range(20000)]  # ~ 500 kB of text
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"maxTokens": 4096, "multiline": "never"}) as s:
        s.open(URI, "x = \nprint(x)\n")
        emulator.script(Reply(chunks=lines, per_chunk_ms=5))
        assert await ask(s, 0, 4) == ["value_0 = compute(0)"]
        assert await emulator.wait_for_async(
            lambda log: log[-1].outcome != "in_flight", timeout=WAIT)
        (req,) = emulator.requests("/beta/completions")
        assert req.outcome == "client_disconnected"
        await recovers(s, emulator)


async def test_insufficient_system_resource_is_empty(tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        for _ in range(2):
            emulator.script(Reply(text="partial", finish_reason="insufficient_system_resource"))
            assert await ask(s, 0, 4) == []
        shown = told_once_each(s)
        assert len([m for m in shown if "busy" in m]) == 1
        await recovers(s, emulator)


async def test_reply_ignoring_max_tokens_is_cut_short(tmp_path: Path) -> None:
    """An API that never stops (no newline, no [DONE]): reading stops near ``maxTokens``."""
    fake = EndlessApi()
    async with fake as base_url, lsp_session(
            tmp_path, base_url, init_options={"maxTokens": 16, "requestTimeoutMs": 60000}) as s:
        api = s  # keep a name for the session
        api.open(URI, "x = \nprint(x)\n")
        suggestion = await ask(api, 0, 4)
        assert len("".join(suggestion)) <= 16 * 64
        told_once_each(api)
        await asyncio.wait_for(fake.finished.wait(), WAIT)
        assert fake.client_left and fake.sent < fake.limit


# --- bounded memory and tasks -----------------------------------------------------------------


async def test_flood_of_superseded_requests_leaves_nothing_behind(tmp_path: Path,
                                                                  emulator: Emulator) -> None:
    emulator.first_token_ms = 30
    emulator.fim_responder = lambda body: "  # end"
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 50}) as s:
        s.open(URI, "\n")
        await recovers(s, emulator)
        before = await stats(s)
        assert before["inflight"] == 0
        pending = []
        typed = ""
        for i in range(300):
            ch = "abcdefghij"[i % 10]
            s.insert(URI, 0, len(typed), ch)
            typed += ch
            pending.append(asyncio.ensure_future(s.inline(URI, 0, len(typed))))
            if i % 40 == 39:  # now and then let a request get past its debounce into HTTP
                await asyncio.sleep(0.08)
        results = await asyncio.wait_for(asyncio.gather(*pending), 120)
        last = results[-1]
        assert last is not None and [i.insert_text for i in last.items] == ["  # end"]
        assert sum(1 for r in results if r is not None and r.items) <= 10
        sent = emulator.requests("/beta/completions")
        assert 2 <= len(sent) <= 20  # the probe + a few that got past the debounce
        assert sent[-1].body["prompt"] == typed

        async def settled() -> dict[str, Any]:
            for _ in range(100):
                now = await stats(s)
                if now["inflight"] == 0 and now["tasks"] <= before["tasks"] + 2:
                    return now
                await asyncio.sleep(0.05)
            return now

        after = await settled()
        assert after["inflight"] == 0
        assert after["tasks"] <= before["tasks"] + 2, (before["tasks"], after["tasks"])
        assert after["session"]["requests"] >= 1
        told_once_each(s)


async def stats(s: Session) -> dict[str, Any]:
    def plain(obj: Any) -> Any:
        return {k: plain(v) for k, v in obj._asdict().items()} if hasattr(obj, "_asdict") \
            else obj

    return plain(await asyncio.wait_for(  # type: ignore[no-any-return]
        s.client.protocol.send_request_async("deepseekFim/stats", {}), WAIT))
