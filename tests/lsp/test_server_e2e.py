"""The inline completion server as editors use it: real process, real stdio, real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp

from conftest import TEST_KEY, Session, lsp_session, stats
from deepseek_fim_lsp.emulator import Emulator, Reply, Rule

URI = "file:///work/example.py"


def apply_item(text: str, item: lsp.InlineCompletionItem, encoding: str = "utf-16") -> str:
    """Apply an inline item to ``text`` the way an editor does (positions in ``encoding``)."""
    assert item.range is not None
    lines = text.splitlines(keepends=True) or [""]

    def offset(pos: lsp.Position) -> int:
        before = sum(len(line) for line in lines[: pos.line])
        line = lines[pos.line] if pos.line < len(lines) else ""
        units = 0
        for i, ch in enumerate(line):
            if units >= pos.character:
                return before + i
            units += (2 if ord(ch) > 0xFFFF else 1) if encoding == "utf-16" else (
                len(ch.encode()) if encoding == "utf-8" else 1)
        return before + len(line.rstrip("\r\n"))

    start, end = offset(item.range.start), offset(item.range.end)
    insert = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    return text[:start] + insert + text[end:]


def fim_requests(emu: Emulator) -> list[Any]:
    return emu.requests("/beta/completions")


async def test_capabilities_advertised(tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        caps = s.capabilities
        assert caps.inline_completion_provider is not None
        assert caps.position_encoding == lsp.PositionEncodingKind.Utf16
        sync = caps.text_document_sync
        kind = sync.change if isinstance(sync, lsp.TextDocumentSyncOptions) else sync
        assert kind == lsp.TextDocumentSyncKind.Incremental
        assert caps.completion_provider is not None


async def test_client_choice_of_utf8_is_honoured(tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(text="x"))
    async with lsp_session(tmp_path, emulator.base_url, position_encodings=["utf-8"]) as s:
        caps = s.capabilities
        assert caps.position_encoding == lsp.PositionEncodingKind.Utf8
        text = "s = 'é😀' + \n"
        s.open(URI, text)
        col = len("s = 'é😀' + ".encode())
        result = await s.inline(URI, 0, col, invoked=True)
        assert result and result.items
        assert fim_requests(emulator)[0].body["prompt"] == "s = 'é😀' + "
        assert apply_item(text, result.items[0], "utf-8") == "s = 'é😀' + x\n"


async def test_completion_end_to_end(tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(text="a + b\n"))
    text = "def add(a, b):\n    return \n\nprint(add(1, 2))\n"
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, text)
        result = await s.inline(URI, 1, 11)
        assert result is not None and len(result.items) == 1
        item = result.items[0]
        assert item.insert_text == "a + b"
        assert item.command is not None and item.command.command == "deepseekFim.accepted"
        assert apply_item(text, item) == text.replace("return \n", "return a + b\n")
        (req,) = fim_requests(emulator)
        assert req.body["prompt"] == "def add(a, b):\n    return "
        assert req.body["suffix"] == "\n\nprint(add(1, 2))\n"
        assert req.body["model"] == "deepseek-v4-flash"
        assert req.body["max_tokens"] == 128 and req.body["temperature"] == 0.0
        assert req.headers["authorization"] == f"Bearer {TEST_KEY}"


async def test_burst_costs_at_most_two_requests(tmp_path: Path, emulator: Emulator) -> None:
    """15 keystrokes, a request after each: debounce + supersession leave ≤ 2 backend calls."""
    emulator.first_token_ms = 50
    emulator.fim_responder = lambda body: "  # done"
    word = "result = value"  # 14 chars + a final space = 15 keystrokes
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 300}) as s:
        s.open(URI, "\n")
        pending = []
        typed = ""
        for ch in word + " ":
            s.insert(URI, 0, len(typed), ch)
            typed += ch
            pending.append(asyncio.ensure_future(s.inline(URI, 0, len(typed))))
            await asyncio.sleep(0.02)
        results = await asyncio.gather(*pending)
        assert len(fim_requests(emulator)) <= 2
        assert results[-1] is not None and results[-1].items, "the last request lost its answer"
        assert results[-1].items[0].insert_text == "  # done"
        assert all(not r.items for r in results[:-2]), "superseded requests must end empty"
        assert fim_requests(emulator)[-1].body["prompt"] == word + " "


async def test_superseded_request_cancels_its_http_call(tmp_path: Path,
                                                        emulator: Emulator) -> None:
    """A request for another state (here: the cursor moved) cancels the one in flight."""
    emulator.script(Reply(text="slow", first_token_ms=30000), Reply(text="fast"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = 1\n")
        first = asyncio.ensure_future(s.inline(URI, 0, 4))
        assert await emulator.wait_for_async(lambda log: any(
            r.path == "/beta/completions" for r in log), timeout=20)
        second = await s.inline(URI, 0, 5)
        first_result = await asyncio.wait_for(first, 20)
        assert first_result is not None and first_result.items == ()
        assert second is not None and [i.insert_text for i in second.items] == ["fast"]
        assert emulator.wait_for(
            lambda log: any(r.outcome == "client_disconnected" for r in log
                            if r.path == "/beta/completions"), timeout=10)
        slow = fim_requests(emulator)[0]
        assert slow.body["prompt"] == "x = " and slow.outcome == "client_disconnected"


async def test_typing_on_keeps_the_request_in_flight_and_types_through(
        tmp_path: Path, emulator: Emulator) -> None:
    """Typing the start of what is coming does not throw the in-flight answer away."""
    emulator.script(Reply(text="total + 1", first_token_ms=700))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        first = asyncio.ensure_future(s.inline(URI, 0, 4))
        assert await emulator.wait_for_async(lambda log: any(
            r.path == "/beta/completions" for r in log), timeout=20)
        s.insert(URI, 0, 4, "to")
        second = await asyncio.wait_for(s.inline(URI, 0, 6), 20)
        first_result = await asyncio.wait_for(first, 20)
        assert first_result is not None and first_result.items == ()  # superseded, empty
        assert second is not None and [i.insert_text for i in second.items] == ["tal + 1"]
        (only,) = fim_requests(emulator)
        assert only.outcome == "completed"


async def test_cancel_request_cancels_http_call(tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(text="slow", first_token_ms=30000))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        params = lsp.InlineCompletionParams(
            context=lsp.InlineCompletionContext(lsp.InlineCompletionTriggerKind.Invoked),
            text_document=lsp.TextDocumentIdentifier(uri=URI), position=lsp.Position(0, 4))
        pending = asyncio.ensure_future(s.client.protocol.send_request_async(
            lsp.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="cancel-me"))
        assert await emulator.wait_for_async(
            lambda log: any(r.path == "/beta/completions" for r in log), timeout=20)
        s.client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="cancel-me"))
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(pending, 20)
        assert emulator.wait_for(
            lambda log: any(r.outcome == "client_disconnected" for r in log
                            if r.path == "/beta/completions"), timeout=10)
        emulator.script(Reply(text="again"))
        after = await s.inline(URI, 0, 4, invoked=True)
        assert after is not None and after.items[0].insert_text == "again"


async def test_cache_hit_costs_no_request(tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(text="42"))
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"debounceMs": 0}) as s:
        s.open(URI, "answer = \n")
        one = await s.inline(URI, 0, 9)
        two = await s.inline(URI, 0, 9)
        assert one and two and one.items[0].insert_text == two.items[0].insert_text == "42"
        assert len(fim_requests(emulator)) == 1
        st = await stats(s)
        assert st["session"]["cacheHits"] == 1


async def test_type_through_serves_the_rest_without_a_request(tmp_path: Path,
                                                              emulator: Emulator) -> None:
    emulator.script(Reply(text="print('hello')"))
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"debounceMs": 2000}) as s:
        s.open(URI, "\n")
        first = await s.inline(URI, 0, 0, invoked=True)
        assert first and first.items[0].insert_text == "print('hello')"
        typed = ""
        for ch in "print(":
            s.insert(URI, 0, len(typed), ch)
            typed += ch
            result = await s.inline(URI, 0, len(typed))
            assert result is not None and result.items, f"type-through lost after {typed!r}"
            assert result.items[0].insert_text == "print('hello')"[len(typed):]
        # Diverging input ends type-through: a fresh (debounced) request is needed.
        s.insert(URI, 0, len(typed), "x")
        emulator.script(Reply(text="')"))
        diverged = await s.inline(URI, 0, len(typed) + 1, invoked=True)
        assert diverged and diverged.items[0].insert_text == "')"
        # Requests: the first suggestion, the diverged state, and at most one prefetch for the
        # start of the line after the suggested one (asked ahead while it was being typed).
        asked = [r.body["prompt"] for r in fim_requests(emulator)]
        assert [p for p in asked if p != "print('hello')\n"] == ["", "print(x"]
        st = await stats(s)
        assert st["session"]["typeThroughHits"] == 6


async def _error_roundtrip(s: Session, emu: Emulator, status: int, column: int = 4) -> None:
    for _ in range(3):
        emu.script(Reply(status=status))
        result = await s.inline(URI, 0, column, invoked=True)
        assert result is not None and result.items == ()


@pytest.mark.parametrize(("status", "words"), [
    (401, "key was rejected"),
    (402, "balance is exhausted"),
    (422, "rejected"),
    (429, "rate-limiting"),
    (500, "server error"),
    (503, "overloaded"),
])
async def test_each_error_status_one_message_then_recovery(
        tmp_path: Path, emulator: Emulator, status: int, words: str) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        await _error_roundtrip(s, emulator, status)
        shown = [m for m in s.messages if words in m.message]
        assert len(shown) == 1, [m.message for m in s.messages]
        assert len(fim_requests(emulator)) == 3  # invoked requests are still sent
        logged = [m for m in s.log_messages if words in m.message]
        assert len(logged) >= 3
        emulator.script(Reply(text="1"))
        ok = await s.inline(URI, 0, 4, invoked=True)
        assert ok and ok.items[0].insert_text == "1"
        # After recovery the same problem is told again if it comes back.
        s.insert(URI, 0, 4, "y")
        await _error_roundtrip(s, emulator, status, column=5)
        assert len([m for m in s.messages if words in m.message]) == 2
        assert TEST_KEY not in s.stderr()
        assert all(TEST_KEY not in m.message for m in s.messages + s.log_messages)


async def test_unknown_model_lists_offered_models(tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"model": "deepseek-chat"}) as s:
        for _ in range(20):
            if any("deepseek-chat" in m.message for m in s.messages):
                break
            await asyncio.sleep(0.1)
        (msg,) = [m.message for m in s.messages if "deepseek-chat" in m.message]
        assert "does not offer" in msg and "deepseek-v4-flash" in msg
        s.open(URI, "x = \n")
        await s.inline(URI, 0, 4, invoked=True)
        assert len([m for m in s.messages if "deepseek-chat" in m.message]) == 1


async def test_automatic_requests_back_off_after_busy(tmp_path: Path,
                                                      emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        emulator.script(Reply(status=503))
        await s.inline(URI, 0, 4)
        for _ in range(5):
            await s.inline(URI, 0, 4)
        assert len(fim_requests(emulator)) == 1, "automatic requests must back off after 503"


async def test_missing_key_says_how_and_sends_nothing(tmp_path: Path,
                                                      emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url, key=None) as s:
        s.open(URI, "x = \n")
        result = await s.inline(URI, 0, 4, invoked=True)
        assert result is not None and result.items == ()
        (msg,) = [m.message for m in s.messages if "API key" in m.message]
        assert "DEEPSEEK_API_KEY" in msg
        assert emulator.requests() == []


async def test_key_from_settings_is_used_and_never_printed(tmp_path: Path,
                                                           emulator: Emulator) -> None:
    emulator.script(Reply(status=401))
    async with lsp_session(tmp_path, emulator.base_url, key=None,
                           init_options={"apiKey": TEST_KEY, "debounceMs": 0,
                                         "logLevel": "debug"}) as s:
        s.open(URI, "x = \n")
        await s.inline(URI, 0, 4, invoked=True)
        assert fim_requests(emulator)[0].headers["authorization"] == f"Bearer {TEST_KEY}"
    assert TEST_KEY not in s.stderr()
    assert all(TEST_KEY not in m.message for m in s.messages + s.log_messages)


async def test_settings_from_did_change_configuration(tmp_path: Path,
                                                      emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        s.client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
            settings={"deepseekFim": {"model": "deepseek-v4-pro", "maxTokens": 64,
                                      "temperature": 7}}))
        emulator.script(Reply(text="1"))
        await s.inline(URI, 0, 4, invoked=True)
        body = fim_requests(emulator)[0].body
        assert body["model"] == "deepseek-v4-pro" and body["max_tokens"] == 64
        assert body["temperature"] == 0.0  # the invalid value fell back
        (msg,) = [m.message for m in s.messages if "temperature" in m.message]
        assert "deepseekFim.temperature" in msg and "between 0.0 and 2.0" in msg


async def test_surrogate_pairs_and_crlf(tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(text="'🎉')"))
    text = "# 😀😀\r\nprint(\r\nz = 1\r\n"
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, text)
        result = await s.inline(URI, 1, 6, invoked=True)
        assert result is not None and result.items
        assert fim_requests(emulator)[0].body["prompt"] == "# 😀😀\r\nprint("
        assert fim_requests(emulator)[0].body["suffix"] == "\r\nz = 1\r\n"
        assert apply_item(text, result.items[0]) == "# 😀😀\r\nprint('🎉')\r\nz = 1\r\n"
        # An edit after the emoji lands where UTF-16 says it should.
        s.insert(URI, 0, 6, "!")  # 2 + 2*2 code units = after both emoji
        emulator.script(Reply(text="2"))
        await s.inline(URI, 2, 4, invoked=True)
        assert fim_requests(emulator)[1].body["prompt"].startswith("# 😀😀!\r\n")


async def test_bad_input_gets_empty_answers_and_server_survives(tmp_path: Path,
                                                                emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = 1\n")
        assert (await s.inline(URI, 99, 0, invoked=True)).items == ()  # type: ignore[union-attr]
        never = await s.inline("file:///never/opened.py", 0, 0, invoked=True)
        assert never is not None and never.items == ()
        with pytest.raises(Exception, match="not found|Method"):
            await s.client.protocol.send_request_async("deepseekFim/noSuchMethod", {})
        s.open("file:///bin.py", "\x00\x01binary\x00")
        binary = await s.inline("file:///bin.py", 0, 2, invoked=True)
        assert binary is not None and binary.items == ()
        assert emulator.requests("/beta/completions") == []
        emulator.script(Reply(text="2"))
        ok = await s.inline(URI, 0, 5, invoked=True)
        assert ok and ok.items  # still alive and answering


async def test_timeout_returns_and_server_stays_responsive(tmp_path: Path,
                                                           emulator: Emulator) -> None:
    emulator.script(Reply(hang=True))
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"requestTimeoutMs": 300, "debounceMs": 0}) as s:
        s.open(URI, "x = \n")
        result = await asyncio.wait_for(s.inline(URI, 0, 4, invoked=True), 10)
        assert result is not None and result.items == ()
        emulator.script(Reply(text="5"))
        ok = await s.inline(URI, 0, 4, invoked=True)
        assert ok and ok.items[0].insert_text == "5"


async def test_acceptance_is_counted_in_stats(tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(text="y"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        result = await s.inline(URI, 0, 4, invoked=True)
        assert result and result.items and result.items[0].command
        cmd = result.items[0].command
        await s.client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command=cmd.command, arguments=cmd.arguments))
        st = await stats(s)
        assert st["session"]["suggestionsShown"] == 1
        assert st["session"]["accepted"] == 1
        assert st["session"]["acceptanceRate"] == 1.0
        assert st["session"]["cacheMissTokens"] > 0


async def test_classic_completion_for_clients_without_inline(tmp_path: Path,
                                                             emulator: Emulator) -> None:
    emulator.script(Reply(text="total = a\n    return total"))
    text = "def f(a):\n    \n"
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, text)
        result = await s.client.text_document_completion_async(lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=URI), position=lsp.Position(1, 4)))
        assert isinstance(result, lsp.CompletionList)
        (item,) = result.items
        assert item.label == "total = a"
        assert isinstance(item.text_edit, lsp.TextEdit)
        assert item.text_edit.new_text == "total = a\n    return total"
        assert item.text_edit.range.start == lsp.Position(1, 4)


async def test_toggle_off_stops_automatic_requests(tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        state = await s.client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="deepseekFim.setEnabled", arguments=[False]))
        assert state is False
        result = await s.inline(URI, 0, 4)
        assert result is not None and result.items == ()
        assert fim_requests(emulator) == []
        assert any(st.state == "disabled" for st in s.statuses())


async def test_prefetched_line_after_the_next_enter(tmp_path: Path,
                                                    emulator: Emulator) -> None:
    """While the last line of a suggestion is typed, the start of the line after it is asked
    for: the two lines the model answers there are on screen at the next two Enters."""
    emulator.add_rule(Rule(reply=Reply(text="    y = x * 2\n    return y"),
                           prompt_endswith="    x = 1 + 2\n"))
    emulator.script(Reply(text="1 + 2"))
    text = "def f():\n    x = \n"
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 0}) as s:
        s.open(URI, text)
        first = await s.inline(URI, 1, 8)
        assert first is not None and [i.insert_text for i in first.items] == ["1 + 2"]
        s.insert(URI, 1, 8, "1")
        typing = await s.inline(URI, 1, 9)
        assert typing is not None and [i.insert_text for i in typing.items] == [" + 2"]
        assert emulator.wait_for(lambda log: len([r for r in log if r.outcome == "completed"
                                                  and r.path == "/beta/completions"]) == 2, 10)
        await asyncio.sleep(0.5)  # the prefetched answer is stored when its task ends
        s.insert(URI, 1, 9, " + 2")
        at_end = await s.inline(URI, 1, 13)
        assert at_end is not None and [i.insert_text for i in at_end.items] == ["\n    y = x * 2"]
        s.insert(URI, 1, 13, "\n    ")
        after_enter = await s.inline(URI, 2, 4)
        assert after_enter is not None
        assert [i.insert_text for i in after_enter.items] == ["y = x * 2"]
        s.insert(URI, 2, 4, "y = x * 2\n    ")
        second_enter = await s.inline(URI, 3, 4)
        assert second_enter is not None
        assert [i.insert_text for i in second_enter.items] == ["return y"]
        asked = [r.body["prompt"] for r in fim_requests(emulator)]
        assert asked[:2] == ["def f():\n    x = ", "def f():\n    x = 1 + 2\n"]
        # The third, if any: asked ahead for the line after `return y`.
        assert asked[2:] in ([], ["def f():\n    x = 1 + 2\n    y = x * 2\n    return y\n"])


async def test_typing_a_suggestion_to_its_end_asks_for_the_next_lines_start(
        tmp_path: Path, emulator: Emulator) -> None:
    """A suggestion typed to its very end (no keystroke left to ask ahead on): the request
    there asks for the start of the next line at once, and shows its answer after the line."""
    emulator.add_rule(Rule(reply=Reply(text="    print(a)\n    return a"),
                           prompt_endswith="    pass\n"))
    emulator.script(Reply(text="pass"))
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 0}) as s:
        s.open(URI, "if a:\n    \n")
        first = await s.inline(URI, 1, 4)
        assert first is not None and [i.insert_text for i in first.items] == ["pass"]
        s.insert(URI, 1, 4, "pass")  # typed in one go (a paste, or a fast typist)
        at_end = await s.inline(URI, 1, 8)
        assert at_end is not None and [i.insert_text for i in at_end.items] == ["\n    print(a)"]
        s.insert(URI, 1, 8, "\n    print(a)\n    ")
        two_down = await s.inline(URI, 3, 4)
        assert two_down is not None and [i.insert_text for i in two_down.items] == ["return a"]
        asked = [r.body["prompt"] for r in fim_requests(emulator)]
        # Never the state "pass" without its line break: it would only ask the same.
        assert asked[:2] == ["if a:\n    ", "if a:\n    pass\n"]
        assert asked[2:] in ([], ["if a:\n    pass\n    print(a)\n    return a\n"])


async def test_nothing_after_a_line_is_not_asked_again_at_its_end(
        tmp_path: Path, emulator: Emulator) -> None:
    """Asked ahead what follows a line, the model had nothing: at the line's end the answer
    is empty at once, however often it is asked."""
    emulator.add_rule(Rule(reply=Reply(text=""), prompt_endswith="= 42\n"))
    emulator.script(Reply(text="42"))
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 0}) as s:
        s.open(URI, "x = \nprint(x)\n")
        first = await s.inline(URI, 0, 4)
        assert first is not None and [i.insert_text for i in first.items] == ["42"]
        s.insert(URI, 0, 4, "4")
        typing = await s.inline(URI, 0, 5)  # asks ahead for the line after "x = 42"
        assert typing is not None and [i.insert_text for i in typing.items] == ["2"]
        s.insert(URI, 0, 5, "2")
        for _ in range(3):
            at_end = await s.inline(URI, 0, 6)
            assert at_end is not None and at_end.items == ()
        asked = [r.body["prompt"] for r in fim_requests(emulator)]
        assert asked == ["x = ", "x = 42\n"]


async def test_a_cursor_move_without_typing_waits_longer_before_asking(
        tmp_path: Path, emulator: Emulator) -> None:
    """Moving around rests briefly at many places: a move waits three debounces, so a look
    elsewhere that comes straight back costs no request."""
    emulator.fim_responder = lambda body: "# note"
    text = "a = 1\nb = 2\nc = 3\n"
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 500}) as s:
        s.open(URI, text)
        typed = await s.inline(URI, 2, 5, invoked=True)
        assert typed is not None and typed.items
        moved = asyncio.ensure_future(s.inline(URI, 0, 5))  # the cursor went up, nothing typed
        await asyncio.sleep(0.8)  # past one debounce (0.5 s), well before three
        back = asyncio.ensure_future(s.inline(URI, 2, 5))  # and came back
        assert (await asyncio.wait_for(moved, 20)).items == ()  # type: ignore[union-attr]
        assert (await asyncio.wait_for(back, 20)).items  # type: ignore[union-attr]
        assert [r.body["prompt"] for r in fim_requests(emulator)] == ["a = 1\nb = 2\nc = 3"]
        # Staying there long enough does ask.
        s.insert(URI, 2, 5, " ")
        await s.inline(URI, 2, 6)
        stay = await asyncio.wait_for(s.inline(URI, 1, 5), 20)
        assert stay is not None and stay.items
        assert fim_requests(emulator)[-1].body["prompt"] == "a = 1\nb = 2"


async def test_next_line_is_served_after_enter_without_a_request(
        tmp_path: Path, emulator: Emulator) -> None:
    """A one-line suggestion keeps the model's next line: typed through, then Enter, shows it."""
    emulator.script(Reply(text="1\n    return x\n\nprint(f())"))
    text = "def f():\n    x = \n"
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 0}) as s:
        s.open(URI, text)
        first = await s.inline(URI, 1, 8)
        assert first is not None and [i.insert_text for i in first.items] == ["1"]
        s.insert(URI, 1, 8, "1")
        at_line_end = await s.inline(URI, 1, 9)
        assert at_line_end is not None
        assert [i.insert_text for i in at_line_end.items] == ["\n    return x"]
        s.insert(URI, 1, 9, "\n    ")  # Enter + the editor's auto-indent
        next_line = await s.inline(URI, 2, 4)
        assert next_line is not None and [i.insert_text for i in next_line.items] == ["return x"]
        # One request for the suggestion; at most one more, asked ahead for the state after
        # the line now being typed (so the line after it is ready at the next Enter).
        asked = [r.body["prompt"] for r in fim_requests(emulator)]
        assert asked[0] == "def f():\n    x = "
        assert asked[1:] in ([], ["def f():\n    x = 1\n    return x\n"])


async def test_an_empty_answer_elsewhere_keeps_the_suggestion_being_typed(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.script(Reply(text="hello_world()"), Reply(text=""))
    async with lsp_session(tmp_path, emulator.base_url, init_options={"typeThrough": True}) as s:
        s.open(URI, "x = 1\n\n")
        first = await s.inline(URI, 1, 0, invoked=True)
        assert first is not None and [i.insert_text for i in first.items] == ["hello_world()"]
        s.insert(URI, 1, 0, "he")
        elsewhere = await s.inline(URI, 0, 5, invoked=True)  # the cursor went up: empty answer
        assert elsewhere is not None and elsewhere.items == ()
        back = await s.inline(URI, 1, 2)  # and came back: the suggestion is still there
        assert back is not None and [i.insert_text for i in back.items] == ["llo_world()"]
        assert len(fim_requests(emulator)) == 2


async def test_changing_to_an_unknown_model_is_told_without_a_request(
        tmp_path: Path, emulator: Emulator) -> None:
    async with lsp_session(tmp_path, emulator.base_url) as s:
        # The start-up check is done before the model changes.
        assert await emulator.wait_for_async(
            lambda log: any(r.path == "/models" and r.outcome == "completed" for r in log), 20)
        await asyncio.sleep(0.2)
        s.client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
            settings={"deepseekFim": {"model": "deepseek-coder"}}))
        for _ in range(100):
            if any("deepseek-coder" in m.message for m in s.messages):
                break
            await asyncio.sleep(0.05)
        (msg,) = [m.message for m in s.messages if "deepseek-coder" in m.message]
        assert "does not offer" in msg and "deepseek-v4-flash" in msg
        assert fim_requests(emulator) == []
        assert len(emulator.requests("/models")) == 2


async def test_a_typo_off_the_suggestion_waits_longer_before_asking(
        tmp_path: Path, emulator: Emulator) -> None:
    """A slip is usually fixed at once: the longer wait lets type-through answer again."""
    emulator.script(Reply(text="counter += 1"))
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 300}) as s:
        s.open(URI, "\n")
        first = await s.inline(URI, 0, 0, invoked=True)
        assert first is not None and [i.insert_text for i in first.items] == ["counter += 1"]
        s.insert(URI, 0, 0, "cx")  # typed "c", then slipped: "x" instead of "o"
        slip = asyncio.ensure_future(s.inline(URI, 0, 2))
        await asyncio.sleep(0.5)  # past one debounce, well before three
        s.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=URI, version=3),
            [lsp.TextDocumentContentChangePartial(
                range=lsp.Range(lsp.Position(0, 1), lsp.Position(0, 2)), text="")]))
        fixed = await s.inline(URI, 0, 1)
        assert fixed is not None and [i.insert_text for i in fixed.items] == ["ounter += 1"]
        assert (await asyncio.wait_for(slip, 20)).items == ()  # type: ignore[union-attr]
        # The slip never cost a request: besides the first one there is at most the prefetch
        # for the state after the suggested line (asked once type-through answered again).
        asked = [r.body["prompt"] for r in fim_requests(emulator)]
        assert [p for p in asked if p != "counter += 1\n"] == [""]


async def test_item_range_refers_to_the_text_that_was_asked_about(
        tmp_path: Path, emulator: Emulator) -> None:
    """The document changed while the answer was on its way: positions must not shift."""
    emulator.script(Reply(text="42", first_token_ms=600))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = \n")
        pending = asyncio.ensure_future(s.inline(URI, 0, 4, invoked=True))
        assert await emulator.wait_for_async(
            lambda log: any(r.path == "/beta/completions" for r in log), timeout=20)
        s.insert(URI, 0, 0, "\n\n")  # old offset 4 is now line 2, character 2
        result = await asyncio.wait_for(pending, 20)
        assert result is not None and result.items
        assert result.items[0].range == lsp.Range(lsp.Position(0, 4), lsp.Position(0, 4))


async def test_the_line_is_answered_before_its_lookahead_has_streamed(
        tmp_path: Path, emulator: Emulator) -> None:
    """The suggested line goes out as soon as it is complete; the model's next line streams
    on and is served after Enter like any lookahead."""
    emulator.script(Reply(chunks=["1 + 2", "\n    return", " x", "\n"], first_token_ms=0,
                          per_chunk_ms=1500))
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 0}) as s:
        s.open(URI, "def f():\n    x = \n")
        first = await s.inline(URI, 1, 8)
        assert first is not None and [i.insert_text for i in first.items] == ["1 + 2"]
        (req,) = fim_requests(emulator)
        assert req.outcome == "in_flight"  # answered while the lookahead still streams
        assert await emulator.wait_for_async(
            lambda log: all(r.outcome != "in_flight" for r in log), 20)
        await asyncio.sleep(0.2)
        s.insert(URI, 1, 8, "1 + 2")
        at_end = await s.inline(URI, 1, 13)
        assert at_end is not None and [i.insert_text for i in at_end.items] == ["\n    return x"]
        s.insert(URI, 1, 13, "\n    ")
        after_enter = await s.inline(URI, 2, 4)
        assert after_enter is not None and [i.insert_text for i in after_enter.items] == [
            "return x"]
        assert len(fim_requests(emulator)) <= 2  # and perhaps the line after `return x`
        st = await stats(s)
        assert st["session"]["completionTokens"] > 0  # the usage was recorded when it ended


async def test_a_lookahead_line_after_a_blank_line_is_kept(tmp_path: Path,
                                                          emulator: Emulator) -> None:
    emulator.script(Reply(text="1\n\nprint(x)\nmore()"))
    async with lsp_session(tmp_path, emulator.base_url, init_options={"debounceMs": 0}) as s:
        s.open(URI, "x = \n")
        first = await s.inline(URI, 0, 4)
        assert first is not None and [i.insert_text for i in first.items] == ["1"]
        await asyncio.sleep(0.3)  # the lookahead lands behind the line
        s.insert(URI, 0, 4, "1")
        at_end = await s.inline(URI, 0, 5)
        assert at_end is not None and [i.insert_text for i in at_end.items] == ["\n\nprint(x)"]
        s.insert(URI, 0, 5, "\n\n")
        two_down = await s.inline(URI, 2, 0)
        assert two_down is not None and [i.insert_text for i in two_down.items] == ["print(x)"]
