"""DeepSeek over HTTP: FIM (streamed SSE), chat, models and balance, with typed errors.

Requests go only to the configured base URL (redirects are not followed, so a response can never
send us, or the key, to another host).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import httpx

from ..errors import (
    AuthError,
    BalanceError,
    BusyError,
    DeepSeekError,
    MissingKeyError,
    RequestRejected,
    StreamError,
    UnknownModelError,
    UnreachableError,
)
from ..log import register_secret
from ..usage import Usage
from .base import Balance, ChatRequest, ChatResult, FimRequest, FimResult, StopCheck

log = logging.getLogger(__name__)
USER_AGENT = "deepseek-fim-lsp"
#: No token is this long: an answer (FIM, or chat content + reasoning) past ``max_tokens * this``
#: characters comes from a server that ignores the limit, and reading stops there instead of at
#: the timeout.
MAX_CHARS_PER_TOKEN = 32
#: The whole of a chat answer must arrive within ``CHAT_DEADLINE_BASE_S + max_tokens /
#: CHAT_MIN_TOKENS_PER_S`` seconds (60 s + 410 s for the default 4096 tokens). ``requestTimeoutMs``
#: only bounds the gap between two chunks, so a server that trickles would otherwise hold the
#: action open for as long as the character cap allows; a real answer streams many times faster.
CHAT_DEADLINE_BASE_S = 60.0
CHAT_MIN_TOKENS_PER_S = 10.0


def chat_deadline_s(max_tokens: int) -> float:
    """The overall time a chat answer of up to ``max_tokens`` tokens may take to arrive."""
    return CHAT_DEADLINE_BASE_S + max(1, max_tokens) / CHAT_MIN_TOKENS_PER_S


class DeepSeekBackend:
    """One shared ``httpx.AsyncClient`` per (base URL, key); cheap to keep, closed on shutdown."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout_s: float = 8.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        register_secret(api_key)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            follow_redirects=False,
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- public calls -------------------------------------------------------------------------

    async def fim(self, request: FimRequest, *, stop_check: StopCheck | None = None,
                  partial: list[str] | None = None) -> FimResult:
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "suffix": request.suffix,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.stop:
            body["stop"] = list(request.stop)
        text = ""
        finish: str | None = None
        usage: Usage | None = None
        limit = max(1, request.max_tokens) * MAX_CHARS_PER_TOKEN
        async with self._stream("POST", "/beta/completions", body, model=request.model) as events:
            async for event in events:
                usage = usage_from_api(event.get("usage")) or usage
                for choice in event.get("choices") or []:
                    if not isinstance(choice, dict):
                        continue
                    delta = choice.get("text")
                    if isinstance(delta, str) and delta:
                        text += delta
                        if partial is not None:
                            partial.append(delta)
                    finish = choice.get("finish_reason") or finish
                if finish == "insufficient_system_resource":
                    raise BusyError(None, "insufficient_system_resource")
                if len(text) > limit:
                    log.warning("the answer ran far past max_tokens=%d; stopped reading",
                                request.max_tokens)
                    return FimResult(text[:limit], "length", usage, stopped_early=True)
                if stop_check is not None and text:
                    cut = stop_check(text)
                    if cut is not None:
                        return FimResult(text[:cut], "early_stop", usage, stopped_early=True)
        return FimResult(text, finish, usage)

    async def chat(self, request: ChatRequest) -> ChatResult:
        messages: list[dict[str, Any]] = []
        for m in request.messages:
            msg: dict[str, Any] = {"role": m.role, "content": m.content}
            if m.prefix:
                msg["prefix"] = True
            messages.append(msg)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "thinking": {"type": "enabled" if request.thinking else "disabled"},
        }
        if not request.thinking:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop"] = list(request.stop)
        path = "/beta/chat/completions" if any(m.prefix for m in request.messages) \
            else "/chat/completions"
        return await self._read_chat(path, body, request)

    async def _read_chat(self, path: str, body: dict[str, Any],
                         request: ChatRequest) -> ChatResult:
        """Read a streamed chat answer, bounded in size (characters) and in overall time.

        A reply running past ``max_tokens * MAX_CHARS_PER_TOKEN`` characters (content and
        reasoning together: thinking counts against ``max_tokens`` too) is cut there and comes
        back as ``finish_reason="length"`` — what callers already treat as cut off.
        """
        text: list[str] = []
        reasoning: list[str] = []
        size = 0
        finish: str | None = None
        usage: Usage | None = None
        limit = max(1, request.max_tokens) * MAX_CHARS_PER_TOKEN
        deadline = chat_deadline_s(request.max_tokens)
        scope = asyncio.timeout(deadline)
        try:
            async with scope, self._stream("POST", path, body, model=request.model) as events:
                async for event in events:
                    usage = usage_from_api(event.get("usage")) or usage
                    for choice in event.get("choices") or []:
                        if not isinstance(choice, dict):
                            continue
                        delta = choice.get("delta") or {}
                        if isinstance(delta.get("content"), str):
                            text.append(delta["content"])
                            size += len(delta["content"])
                        if isinstance(delta.get("reasoning_content"), str):
                            reasoning.append(delta["reasoning_content"])
                            size += len(delta["reasoning_content"])
                        finish = choice.get("finish_reason") or finish
                    if size > limit:
                        log.warning("the chat answer ran far past max_tokens=%d; stopped reading",
                                    request.max_tokens)
                        content, thought = _cut("".join(reasoning), "".join(text), limit)
                        return ChatResult(content, "length", usage, thought)
        except TimeoutError:
            if not scope.expired():
                raise
            raise StreamError(f"no complete answer within {deadline:.0f} s; stopped "
                              "waiting") from None
        if finish == "insufficient_system_resource":
            raise BusyError(None, "insufficient_system_resource")
        return ChatResult("".join(text), finish, usage, "".join(reasoning))

    async def models(self) -> list[str]:
        data = await self._get_json("/models")
        items = data.get("data") if isinstance(data, dict) else None
        return [str(m["id"]) for m in items or [] if isinstance(m, dict) and "id" in m]

    async def balance(self) -> Balance:
        data = await self._get_json("/user/balance")
        if not isinstance(data, dict):
            raise StreamError("balance answer was not a JSON object")
        infos = tuple(
            (str(i.get("currency", "?")), str(i.get("total_balance", "?")))
            for i in data.get("balance_infos") or [] if isinstance(i, dict)
        )
        return Balance(bool(data.get("is_available")), infos)

    # --- plumbing -----------------------------------------------------------------------------

    def _require_key(self) -> None:
        if not self._key:
            raise MissingKeyError()

    async def _get_json(self, path: str) -> Any:
        self._require_key()
        try:
            response = await self._client.get(path)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        if response.status_code != 200:
            await self._raise_status(response, model=None)
        try:
            return json.loads(response.text.strip() or "null")
        except ValueError:
            raise StreamError(f"{path} answered with something that is not JSON") from None

    def _stream(self, method: str, path: str, body: dict[str, Any], *,
                model: str | None) -> _EventStream:
        self._require_key()
        return _EventStream(self, method, path, body, model)

    def _transport_error(self, exc: httpx.HTTPError) -> DeepSeekError:
        if isinstance(exc, httpx.TimeoutException):
            reason = "timed out"
        elif isinstance(exc, httpx.ConnectError):
            reason = "connection refused or host unknown"
        elif isinstance(exc, httpx.RemoteProtocolError):
            return StreamError("the server closed the connection")
        else:
            reason = type(exc).__name__
        return UnreachableError(self.base_url, reason)

    async def _raise_status(self, response: httpx.Response, *, model: str | None) -> NoReturn:
        status = response.status_code
        try:
            await response.aread()
            detail = _error_message(response.text)
        except httpx.HTTPError:
            detail = ""
        if 300 <= status < 400:
            raise RequestRejected(status, "the API answered with a redirect, which is not "
                                          "followed (check `deepseekFim.baseUrl`)")
        if status == 401:
            raise AuthError(detail)
        if status == 402:
            raise BalanceError(detail)
        if status in (400, 404, 422) and model and "model" in detail.lower() and (
            "not exist" in detail.lower() or "not found" in detail.lower()
        ):
            offered: list[str] = []
            try:
                offered = await self.models()
            except DeepSeekError:
                pass
            raise UnknownModelError(model, offered, status)
        if status in (429, 500, 502, 503, 504):
            raise BusyError(status, detail)
        if status in (400, 404, 413, 422):
            raise RequestRejected(status, detail)
        raise BusyError(status, detail)


class _EventStream:
    """``async with`` → an async iterator of SSE JSON events; closing it closes the connection."""

    def __init__(self, backend: DeepSeekBackend, method: str, path: str, body: dict[str, Any],
                 model: str | None) -> None:
        self._backend = backend
        self._method, self._path, self._body, self._model = method, path, body, model
        self._cm: Any = None
        self._gen: Any = None

    async def __aenter__(self) -> AsyncIterator[dict[str, Any]]:
        client = self._backend._client
        try:
            self._cm = client.stream(self._method, self._path, json=self._body)
            response: httpx.Response = await self._cm.__aenter__()
        except httpx.HTTPError as exc:
            raise self._backend._transport_error(exc) from None
        if response.status_code != 200:
            try:
                await self._backend._raise_status(response, model=self._model)
            finally:
                await self._cm.__aexit__(None, None, None)
        self._gen = self._events(response)
        return self._gen  # type: ignore[no-any-return]

    async def __aexit__(self, *exc: object) -> None:
        if self._gen is not None:
            await self._gen.aclose()
        if self._cm is not None:
            await self._cm.__aexit__(None, None, None)

    async def _events(self, response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
        done = False
        garbage = 0
        try:
            async for line in response.aiter_lines():
                line = line.strip()
                if done or not line or line.startswith(":"):
                    continue  # blank separators, ': keep-alive' comments, the body's end
                if not line.startswith("data:"):
                    if line.startswith("{"):  # a non-streamed JSON body
                        try:
                            event = json.loads(line)
                        except ValueError:
                            garbage += 1
                            continue
                        if isinstance(event, dict):
                            yield event
                            done = True
                        continue
                    garbage += 1
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    # Read on to the end of the body (normally nothing): a fully read response
                    # returns its connection to the pool instead of costing a new handshake.
                    done = True
                    continue
                try:
                    event = json.loads(payload)
                except ValueError:
                    garbage += 1
                    continue
                if isinstance(event, dict):
                    if isinstance(event.get("error"), dict):
                        raise StreamError(_error_message(json.dumps(event)))
                    yield event
        except httpx.HTTPError as exc:
            raise self._backend._transport_error(exc) from None
        if garbage:
            log.warning("ignored %d malformed line(s) in the response stream", garbage)
        if not done:
            raise StreamError("the stream ended without [DONE]")


def _cut(reasoning: str, content: str, limit: int) -> tuple[str, str]:
    """``(content, reasoning)`` kept within ``limit`` characters; reasoning streams first."""
    reasoning = reasoning[:limit]
    return content[:limit - len(reasoning)], reasoning


def _error_message(body: str) -> str:
    """The human part of an error body: the envelope's message, else the plain text."""
    body = body.strip()
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(data.get("message"), str):
            return str(data["message"])
    return body[:300]


def usage_from_api(data: Any) -> Usage | None:
    """The ``usage`` object of a DeepSeek answer (older servers put the cache hits under
    ``prompt_tokens_details.cached_tokens``)."""
    if not isinstance(data, dict):
        return None
    prompt = _int(data.get("prompt_tokens"))
    hit = _int(data.get("prompt_cache_hit_tokens"))
    if hit == 0 and isinstance(data.get("prompt_tokens_details"), dict):
        hit = _int(data["prompt_tokens_details"].get("cached_tokens"))
    miss = _int(data.get("prompt_cache_miss_tokens", max(prompt - hit, 0)))
    return Usage(hit, miss, _int(data.get("completion_tokens")))


def _int(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0
