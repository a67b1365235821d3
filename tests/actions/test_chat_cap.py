"""Chat answers are bounded: in characters (derived from ``chatMaxTokens``) and in overall time.

A server that ignores ``max_tokens`` must not grow memory without bound or hold a code action
open forever: reading stops, the reply counts as cut off, and nothing is applied.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from test_actions_e2e import (
    PY,
    by_title,
    execute,
    list_actions,
    range_json,
    record_apply_edit,
    rng,
    wait_until,
)

from conftest import lsp_session
from deepseek_fim_lsp import actions
from deepseek_fim_lsp.backends import deepseek
from deepseek_fim_lsp.backends.base import ChatMessage, ChatRequest
from deepseek_fim_lsp.backends.deepseek import MAX_CHARS_PER_TOKEN, DeepSeekBackend
from deepseek_fim_lsp.config import Settings
from deepseek_fim_lsp.emulator import Emulator, Reply
from deepseek_fim_lsp.errors import StreamError
from deepseek_fim_lsp.usage import UsageLedger
from fake_apis import EndlessApi

KEY = "sk-test-chat-cap-0000"
WAIT = 20.0


def event(content: str | None = None, reasoning: str | None = None,
          finish: str | None = None) -> bytes:
    delta = {k: v for k, v in (("content", content), ("reasoning_content", reasoning))
             if v is not None}
    obj = {"object": "chat.completion.chunk",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": None}
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


class Endless:
    """A chat stream that never ends by itself (up to ``bound`` events, as a safety net)."""

    def __init__(self, content: str | None = "x = 1 " * 10, reasoning: str | None = None,
                 gap_s: float = 0.0, bound: int = 100_000) -> None:
        self.content, self.reasoning, self.gap_s, self.bound = content, reasoning, gap_s, bound
        self.sent = 0

    async def body(self) -> AsyncIterator[bytes]:
        while self.sent < self.bound:
            if self.gap_s:
                await asyncio.sleep(self.gap_s)
            self.sent += 1
            yield event(self.content, self.reasoning)

    def backend(self) -> DeepSeekBackend:
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=self.body(),
                                  headers={"content-type": "text/event-stream"})
        return DeepSeekBackend("https://api.example.test", KEY,
                               transport=httpx.MockTransport(handler))


def chat(max_tokens: int) -> ChatRequest:
    return ChatRequest("deepseek-v4-flash", [ChatMessage("user", "hi")], max_tokens)


# --- the backend -------------------------------------------------------------------------------


async def test_content_ignoring_max_tokens_is_cut_at_the_cap() -> None:
    fake = Endless()
    backend = fake.backend()
    try:
        result = await asyncio.wait_for(backend.chat(chat(16)), WAIT)
    finally:
        await backend.aclose()
    limit = 16 * MAX_CHARS_PER_TOKEN
    assert result.finish_reason == "length"
    assert result.text == ("x = 1 " * 10 * (limit // 60 + 1))[:limit]
    assert fake.sent < fake.bound  # stopped reading


async def test_runaway_reasoning_counts_against_the_cap() -> None:
    fake = Endless(content=None, reasoning="hmm, ")
    backend = fake.backend()
    try:
        result = await asyncio.wait_for(backend.chat(chat(8)), WAIT)
    finally:
        await backend.aclose()
    assert result.finish_reason == "length" and result.text == ""
    assert len(result.reasoning) == 8 * MAX_CHARS_PER_TOKEN
    assert fake.sent < fake.bound


async def test_an_answer_right_at_the_cap_is_kept_whole() -> None:
    limit = 4 * MAX_CHARS_PER_TOKEN
    body = event("") + event("a" * limit) + event(finish="stop") + b"data: [DONE]\n\n"
    backend = DeepSeekBackend("https://api.example.test", KEY, transport=httpx.MockTransport(
        lambda r: httpx.Response(200, content=body,
                                 headers={"content-type": "text/event-stream"})))
    try:
        at_cap = await backend.chat(chat(4))
        over = await backend.chat(chat(3))
    finally:
        await backend.aclose()
    assert (at_cap.text, at_cap.finish_reason) == ("a" * limit, "stop")
    assert (over.text, over.finish_reason) == ("a" * 3 * MAX_CHARS_PER_TOKEN, "length")


def test_the_overall_deadline_grows_with_max_tokens() -> None:
    assert deepseek.chat_deadline_s(4096) > deepseek.chat_deadline_s(256) \
        > deepseek.CHAT_DEADLINE_BASE_S
    # a real answer (tens of tokens per second) fits with room to spare
    assert deepseek.chat_deadline_s(4096) > 4096 / 20


async def test_a_trickling_answer_stops_at_the_overall_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deepseek, "CHAT_DEADLINE_BASE_S", 0.3)
    monkeypatch.setattr(deepseek, "CHAT_MIN_TOKENS_PER_S", 1e9)
    fake = Endless(content="a", gap_s=0.02)  # every gap well inside the read timeout
    backend = fake.backend()
    try:
        with pytest.raises(StreamError, match="no complete answer within") as info:
            await asyncio.wait_for(backend.chat(chat(4096)), WAIT)
    finally:
        await backend.aclose()
    assert fake.sent < fake.bound
    assert KEY not in info.value.user_message


# --- the action --------------------------------------------------------------------------------


def action(kind: actions.ActionKind) -> actions.ActionRequest:
    start, end = PY.index("def area"), PY.index("\n\n\ndef other")
    return actions.ActionRequest(kind, "file:///w/geo.py", PY, "python", start, end)


@pytest.mark.parametrize("kind", ["rewrite", "explain"])
async def test_a_runaway_reply_is_a_truncated_reply(kind: actions.ActionKind) -> None:
    fake = Endless(content=None if kind == "explain" else "y = 2\n",
                   reasoning="mull " if kind == "explain" else None)
    backend = fake.backend()
    settings = Settings(api_key=KEY, chat_max_tokens=32, chat_thinking=kind == "explain")
    try:
        with pytest.raises(actions.TruncatedReply, match="nothing was changed"):
            await asyncio.wait_for(actions.run_action(action(kind), backend, settings,
                                                      UsageLedger(persist=False)), WAIT)
    finally:
        await backend.aclose()
    assert fake.sent < fake.bound


# --- end to end: the real server -----------------------------------------------------------------


async def test_emulated_runaway_reasoning_applies_nothing(tmp_path: Path,
                                                          emulator: Emulator) -> None:
    """The emulator streams scripted reasoning whatever ``max_tokens`` says."""
    uri = (tmp_path / "geo.py").as_uri()
    emulator.script(Reply(text="    x = r ** 2\n", reasoning="let me think. " * 20_000,
                          endpoint="chat"))
    options = {"chatThinking": True, "chatMaxTokens": 64}
    async with lsp_session(tmp_path, emulator.base_url, init_options=options) as s:
        s.open(uri, PY)
        applied = record_apply_edit(s)
        assert await asyncio.wait_for(execute(s, "deepseekFim.rewrite", uri,
                                              range_json(rng((4, 4), (4, 13))), "square"),
                                      WAIT) is None
        await wait_until(lambda: s.messages)
        (msg,) = s.messages
        assert "cut off" in msg.message and "nothing was changed" in msg.message
        assert "chatMaxTokens" in msg.message
        assert applied == []
        # the server closed the connection instead of reading all 280,000 characters
        assert await emulator.wait_for_async(
            lambda log: [r.outcome for r in log if "chat" in r.path] == ["client_disconnected"],
            WAIT)


class EndlessChatApi(EndlessApi):
    """A broken API on 127.0.0.1 that ignores ``max_tokens`` and streams chat chunks forever."""

    def frame(self) -> bytes:
        return event("    x = r * r  # " + "again " * 150)

    async def answer_other(self, request_line: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"chat/completions" in request_line:
            return False
        writer.write(b"HTTP/1.1 404 Not Found\r\nconnection: close\r\n"
                     b"content-length: 0\r\n\r\n")
        await writer.drain()
        return True


async def test_endless_chat_stream_is_cut_short_by_the_server(tmp_path: Path) -> None:
    uri = (tmp_path / "geo.py").as_uri()
    fake = EndlessChatApi()
    async with fake as base_url, lsp_session(
            tmp_path, base_url,
            init_options={"chatMaxTokens": 256, "requestTimeoutMs": 60000}) as s:
        s.open(uri, PY)
        actions_ = await list_actions(s, uri, rng((4, 0), (4, 0)))
        resolved = await asyncio.wait_for(s.client.code_action_resolve_async(
            by_title(actions_, "DeepSeek: Add docstring")), WAIT)
        assert resolved.edit is None
        await wait_until(lambda: s.messages)
        (msg,) = s.messages
        assert "cut off" in msg.message and "nothing was changed" in msg.message
        await asyncio.wait_for(fake.finished.wait(), WAIT)
        assert fake.client_left and fake.sent < fake.limit
