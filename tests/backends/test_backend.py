"""The HTTP backend against httpx.MockTransport: SSE parsing and error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from deepseek_fim_lsp.backends.base import FimRequest
from deepseek_fim_lsp.backends.deepseek import DeepSeekBackend
from deepseek_fim_lsp.errors import (
    AuthError,
    BalanceError,
    BusyError,
    MissingKeyError,
    RequestRejected,
    StreamError,
    UnknownModelError,
    UnreachableError,
)

KEY = "sk-unit-test-0123456789"
REQ = FimRequest("deepseek-v4-flash", "def f(", ")", 32, 0.0)


def chunk(text: str | None, finish: str | None = None, usage: dict | None = None) -> str:
    choices = [] if text is None else [{"index": 0, "text": text, "finish_reason": finish}]
    return "data: " + json.dumps({"object": "text_completion", "choices": choices,
                                  "usage": usage}) + "\n\n"


USAGE = {"prompt_tokens": 10, "completion_tokens": 3, "prompt_cache_hit_tokens": 4,
         "prompt_cache_miss_tokens": 6}


def backend(handler: Callable[[httpx.Request], httpx.Response]) -> DeepSeekBackend:
    return DeepSeekBackend("https://api.example.test", KEY,
                           transport=httpx.MockTransport(handler))


def sse(body: str, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/beta/completions"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        sent = json.loads(request.content)
        assert sent["stream"] is True and sent["prompt"] == "def f(" and sent["suffix"] == ")"
        return httpx.Response(status, text=body,
                              headers={"content-type": "text/event-stream"})
    return handler


async def test_stream_with_keepalive_and_separate_usage_chunk() -> None:
    body = (": keep-alive\n\n: keep-alive\n\n" + chunk("") + chunk("a, ") + chunk("b", "stop")
            + chunk(None, usage=USAGE) + "data: [DONE]\n\n")
    result = await backend(sse(body)).fim(REQ)
    assert result.text == "a, b" and result.finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.cache_hit_tokens, result.usage.cache_miss_tokens,
            result.usage.completion_tokens) == (4, 6, 3)


async def test_usage_on_the_last_content_chunk_and_garbage_lines() -> None:
    body = ("event: ping\n\n" + "data: {not json\n\n" + chunk("x") + chunk("y", "stop", USAGE)
            + "data: [DONE]\n\n")
    result = await backend(sse(body)).fim(REQ)
    assert result.text == "xy" and result.usage is not None
    assert result.usage.prompt_tokens == 10


async def test_stream_without_done_is_a_stream_error() -> None:
    with pytest.raises(StreamError):
        await backend(sse(chunk("x"))).fim(REQ)


async def test_early_stop_returns_the_cut_text() -> None:
    body = chunk("one\ntwo\n") + chunk("three") + "data: [DONE]\n\n"
    result = await backend(sse(body)).fim(REQ, stop_check=lambda t: t.find("\n") if "\n" in t
                                          else None)
    assert result.text == "one" and result.stopped_early


async def test_insufficient_system_resource_is_busy() -> None:
    body = chunk("partial", "insufficient_system_resource") + "data: [DONE]\n\n"
    with pytest.raises(BusyError):
        await backend(sse(body)).fim(REQ)


@pytest.mark.parametrize(("status", "body", "error"), [
    (401, '{"error":{"message":"Authentication Fails, Your api key: ****6789 is invalid"}}',
     AuthError),
    (402, '{"error":{"message":"Insufficient Balance"}}', BalanceError),
    (422, "Failed to deserialize the JSON body into the target type: temperature", RequestRejected),
    (429, "", BusyError),
    (500, "oops", BusyError),
    (503, '{"error":{"message":"busy"}}', BusyError),
])
async def test_status_codes_map_to_typed_errors(status: int, body: str, error: type) -> None:
    with pytest.raises(error) as info:
        await backend(sse(body, status)).fim(REQ)
    assert KEY not in str(info.value) and KEY not in info.value.user_message
    assert info.value.status == status


async def test_unknown_model_lists_what_is_offered() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/models":
            return httpx.Response(200, json={"object": "list", "data": [
                {"id": "deepseek-v4-flash"}, {"id": "deepseek-v4-pro"}]})
        return httpx.Response(400, json={"error": {"message": "Model Not Exist"}})

    with pytest.raises(UnknownModelError) as info:
        await backend(handler).fim(FimRequest("deepseek-chat", "a", "", 8, 0.0))
    assert "deepseek-chat" in info.value.user_message
    assert "deepseek-v4-flash, deepseek-v4-pro" in info.value.user_message


async def test_redirects_to_other_hosts_are_not_followed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url.host))
        return httpx.Response(307, headers={"location": "https://evil.example/steal"})

    with pytest.raises(RequestRejected, match="redirect"):
        await backend(handler).fim(REQ)
    assert seen == ["api.example.test"]


async def test_connection_refused_is_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UnreachableError) as info:
        await backend(handler).fim(REQ)
    assert "api.example.test" in info.value.user_message


async def test_no_key_sends_nothing() -> None:
    calls: list[httpx.Request] = []
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    b = DeepSeekBackend("https://api.example.test", None, transport=httpx.MockTransport(handler))
    with pytest.raises(MissingKeyError):
        await b.fim(REQ)
    assert calls == []


async def test_connections_are_reused_between_completions() -> None:
    """Reading each stream to its end returns the connection to the pool (no new handshake)."""
    from deepseek_fim_lsp.emulator import Emulator

    with Emulator(api_keys=(KEY,)) as emu:
        emu.fim_responder = lambda body: "x"
        b = DeepSeekBackend(emu.base_url, KEY)
        opened: list[int] = []
        try:
            for _ in range(5):
                assert (await b.fim(REQ)).text == "x"
                pool = b._client._transport._pool  # type: ignore[attr-defined]
                opened.append(len(pool.connections))
        finally:
            await b.aclose()
    assert opened == [1, 1, 1, 1, 1]


async def test_a_warm_completion_searches_for_no_module() -> None:
    """A module imported inside the request path but not installed is looked for on sys.path
    anew on every call (httpcore asks for sniffio four times per request: ~1.6 ms)."""
    import sys
    from importlib.abc import MetaPathFinder

    from deepseek_fim_lsp.emulator import Emulator

    class Recorder(MetaPathFinder):
        def __init__(self) -> None:
            self.names: list[str] = []

        def find_spec(self, fullname: str, path: object, target: object = None) -> None:
            self.names.append(fullname)
            return None

    with Emulator(api_keys=(KEY,)) as emu:
        emu.fim_responder = lambda body: "x"
        b = DeepSeekBackend(emu.base_url, KEY)
        recorder = Recorder()
        try:
            assert (await b.fim(REQ)).text == "x"  # cold: first imports are fine
            sys.meta_path.insert(0, recorder)
            for _ in range(3):
                assert (await b.fim(REQ)).text == "x"
        finally:
            if recorder in sys.meta_path:
                sys.meta_path.remove(recorder)
            await b.aclose()
    assert recorder.names == []
