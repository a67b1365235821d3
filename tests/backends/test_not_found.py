"""A 404 says the URL is wrong and names it, in its own error kind; a base URL with ``/beta``
reaches the right paths (issue 13). httpx.MockTransport stands in for the API."""

from __future__ import annotations

import httpx
import pytest

from deepseek_fim_lsp.backends.base import ChatMessage, ChatRequest, FimRequest
from deepseek_fim_lsp.backends.deepseek import DeepSeekBackend
from deepseek_fim_lsp.errors import RequestRejected, UnknownModelError, WrongUrlError

KEY = "sk-unit-test-0123456789"
ROOT = "https://api.deepseek.com"


def _backend(base: str, handler: httpx.MockTransport) -> DeepSeekBackend:
    return DeepSeekBackend(base, KEY, transport=handler)


async def test_backend_given_a_beta_url_calls_the_right_paths() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/user/balance":
            return httpx.Response(200, json={"is_available": True, "balance_infos": []})
        return httpx.Response(200, text='data: {"choices":[{"text":"x","finish_reason":"stop"}]}'
                              '\n\ndata: [DONE]\n\n')

    b = _backend(ROOT + "/beta/", httpx.MockTransport(handler))
    await b.balance()
    await b.fim(FimRequest("deepseek-v4-flash", "a", "", 8, 0.0))
    await b.aclose()
    assert seen == ["/user/balance", "/beta/completions"]


def _not_found(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"error": {"message": "Not Found"}})


async def test_a_404_says_the_url_is_wrong_and_names_it() -> None:
    b = DeepSeekBackend("https://user:hunter2@wrong.example/api", KEY,
                        transport=httpx.MockTransport(_not_found))
    with pytest.raises(WrongUrlError) as info:
        await b.fim(FimRequest("deepseek-v4-flash", "a", "", 8, 0.0))
    err = info.value
    assert err.kind == "url" and err.status == 404 and not err.retryable and err.needs_user
    assert "https://wrong.example/api/beta/completions" in err.user_message
    assert "baseUrl" in err.user_message and "https://api.deepseek.com" in err.user_message
    # it does not blame the model settings, nor show credentials or the key
    for wrong in ("model", "maxTokens", "temperature", "hunter2", KEY):
        assert wrong not in err.user_message
    with pytest.raises(WrongUrlError):
        await b.balance()
    with pytest.raises(WrongUrlError):
        await b.models()
    await b.aclose()


async def test_a_404_on_chat_is_still_a_rejected_request_for_the_prefix_retry() -> None:
    """Code actions retry without prefix mode on a 404 from /beta (a proxy without it)."""
    b = _backend(ROOT, httpx.MockTransport(_not_found))
    with pytest.raises(RequestRejected) as info:
        await b.chat(ChatRequest("deepseek-v4-flash", [ChatMessage("user", "hi")], 8))
    assert isinstance(info.value, WrongUrlError) and info.value.status == 404
    await b.aclose()


async def test_an_unknown_model_answered_with_404_is_still_the_model() -> None:
    """OpenAI-style servers answer an unknown model with 404 and say so: that is the model."""
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/models":
            return httpx.Response(200, json={"data": [{"id": "deepseek-flash"}]})
        return httpx.Response(404, json={"error": {"message": "The model `x` does not exist"}})

    b = _backend(ROOT, httpx.MockTransport(handler))
    with pytest.raises(UnknownModelError) as info:
        await b.chat(ChatRequest("x", [ChatMessage("user", "hi")], 8))
    assert "`deepseekFim.chatModel`" in info.value.user_message  # the chat model's setting
    assert "deepseek-flash" in info.value.user_message
    await b.aclose()
