"""A faithful local emulator of the DeepSeek API, for tests, benchmarks and offline work.

It speaks raw HTTP/1.1 on ``asyncio.start_server`` (no web framework) because the things
worth testing live in the framing: SSE ``data:`` lines, ``: keep-alive`` comments, blank
lines before a JSON body, abrupt cuts, and clients that hang up mid-answer. It runs in a
daemon thread with its own event loop so sync and async tests can both drive it.

Answers come, in order of precedence, from the scripted FIFO queue (:meth:`Emulator.script`),
the first matching :class:`Rule`, the configured responder, or a deterministic default
(FIM: ``pass``, see :func:`default_fim_text`). Token counts and the prefix cache are
deterministic (see ``_emulator_model``), so tests can assert exact hit counts.

Out-of-process clients script it through ``/_emulator/*`` control endpoints (no auth).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._emulator_http import (
    END_CHUNKS,
    BadRequest,
    Conn,
    Cut,
    Disconnected,
    HttpRequest,
    chunk_bytes,
    head_bytes,
    json_bytes,
    read_request,
)
from ._emulator_model import (
    DEFAULT_REASONING,
    ApiError,
    PrefixCache,
    apply_limits,
    chat_input,
    chat_prompt,
    count_tokens,
    default_chat_text,
    default_fim_text,
    thinking_enabled,
    validate_chat,
    validate_fim,
)
from ._emulator_payloads import Plan, full_object, pieces, stream_objects

__all__ = ["Emulator", "LoggedRequest", "Reply", "Rule", "count_tokens", "emulate_main"]

Responder = Callable[[dict[str, Any]], str]
_logger = logging.getLogger(__name__)


@dataclass
class Reply:
    """One scripted answer (see the module docstring for precedence).

    Latency: keep-alives (spaced by ``keepalive_interval_ms``) go out first, then
    ``first_token_ms``, then stream chunks ``per_chunk_ms`` apart; a non-streamed answer
    waits ``first_token_ms + per_chunk_ms * (chunks - 1)``. ``garbage_lines`` are written
    as-is (each plus ``\n``, then one blank line) before the first ``data:`` chunk.
    """

    text: str | None = None
    status: int = 200
    error_message: str | None = None
    plain_text_error: bool = False
    finish_reason: str = "stop"
    chunks: list[str] | None = None
    first_token_ms: float | None = None
    per_chunk_ms: float | None = None
    keepalive: int = 0
    keepalive_interval_ms: float = 0
    hang: bool = False
    cut_after_chunks: int | None = None
    garbage_lines: list[str] = field(default_factory=list)
    usage_placement: str = "separate"
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    endpoint: str = "any"

    @classmethod
    def from_json(cls, data: Any) -> Reply:
        """Build from the control-endpoint JSON (snake_case field names, unknown → error)."""
        if not isinstance(data, dict):
            raise ValueError("a reply must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown reply fields: {sorted(unknown)}")
        return cls(**data)


@dataclass
class Rule:
    """A persistent scripted answer, used when the queue has nothing for the request.

    For FIM the ``prompt_*`` tests look at ``prompt`` and ``suffix_startswith`` at
    ``suffix``; for chat they look at the message contents joined by newlines (so
    ``prompt_endswith`` sees the end of the last message) and there is no suffix.
    """

    reply: Reply
    prompt_endswith: str | None = None
    prompt_contains: str | None = None
    suffix_startswith: str | None = None
    endpoint: str = "any"

    @classmethod
    def from_json(cls, data: Any) -> Rule:
        if not isinstance(data, dict) or "reply" not in data:
            raise ValueError("a rule must be a JSON object with a `reply`")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown rule fields: {sorted(unknown)}")
        return cls(**{**data, "reply": Reply.from_json(data["reply"])})

    def matches(self, kind: str, prompt: str, suffix: str) -> bool:
        if self.endpoint not in ("any", kind) or self.reply.endpoint not in ("any", kind):
            return False
        if self.prompt_endswith is not None and not prompt.endswith(self.prompt_endswith):
            return False
        if self.prompt_contains is not None and self.prompt_contains not in prompt:
            return False
        return self.suffix_startswith is None or suffix.startswith(self.suffix_startswith)


@dataclass
class LoggedRequest:
    """One API request as the emulator saw it.

    ``outcome`` is ``"in_flight"`` (with ``ended=None``) while it runs, then one of
    ``completed`` (a 200 answer fully sent), ``error`` (a 4xx/5xx answer sent, or an
    emulator fault), ``client_disconnected`` (the client went away first), ``cut``
    (a scripted abrupt close) or ``hung`` (a ``hang`` reply still open when the
    emulator stopped). ``concurrent`` counts the API requests in flight when this one
    arrived, itself included; ``max_concurrency`` applies to completion requests only.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    status: int = 0
    outcome: str = "in_flight"
    started: float = 0.0
    ended: float | None = None
    usage: dict[str, Any] | None = None
    concurrent: int = 1

    def masked_headers(self) -> dict[str, str]:
        """Headers with the key cut to its last four characters, as the real API shows it."""
        out = dict(self.headers)
        if "authorization" in out:
            scheme, _, key = out["authorization"].partition(" ")
            out["authorization"] = f"{scheme} {mask_key(key.strip())}"
        return out

    def __repr__(self) -> str:  # never print the key (pytest shows reprs on failures)
        headers = self.masked_headers()
        return (f"LoggedRequest({self.method} {self.path} status={self.status} "
                f"outcome={self.outcome!r} concurrent={self.concurrent} headers={headers} "
                f"body={self.body!r})")

    def to_json(self) -> dict[str, Any]:
        """The ``/_emulator/log`` form: no raw body, the key masked (``Bearer ****abcd``)."""
        d = dataclasses.asdict(self)
        del d["raw_body"]
        d["headers"] = self.masked_headers()
        return d


_DEFAULT_ERRORS = {
    400: ("Invalid request", "invalid_request_error"),
    401: ("Authentication Fails (no such user)", "authentication_error"),
    402: ("Insufficient Balance", "unknown_error"),
    404: ("Not Found", "invalid_request_error"),
    422: ("Invalid parameter", "invalid_request_error"),
    429: ("Rate Limit Reached", "rate_limit_error"),
    500: ("Internal Server Error", "api_error"),
    503: ("Server overloaded, please try again later", "api_error"),
}


def error_envelope(status: int, message: str | None = None, *, type_: str | None = None,
                   param: str | None = None) -> dict[str, Any]:
    """The §5 error body."""
    default_msg, default_type = _DEFAULT_ERRORS.get(status, ("Error", "api_error"))
    return {"error": {"message": message or default_msg, "type": type_ or default_type,
                      "param": param, "code": "invalid_request_error"}}


def mask_key(key: str) -> str:
    """``****abcd`` — the real API shows only the last four characters."""
    return "****" + key[-4:] if len(key) >= 4 else "****"


# --------------------------------------------------------------------------- the emulator


class Emulator:
    """The DeepSeek API on 127.0.0.1. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        api_keys: Collection[str] = ("sk-test-key",),
        models: Collection[str] = ("deepseek-v4-flash", "deepseek-flash", "deepseek-v4-pro"),
        host: str = "127.0.0.1",
        port: int = 0,
        first_token_ms: float = 0,
        per_chunk_ms: float = 0,
        cache_unit_tokens: int = 64,
        max_concurrency: int | None = None,
        fim_responder: Responder | None = None,
        chat_responder: Responder | None = None,
        balance: tuple[str, str] = ("USD", "10.00"),
    ) -> None:
        self.api_keys: Collection[str] = api_keys
        self.models: Collection[str] = models
        self.host = host
        self.port = port
        self.first_token_ms = first_token_ms
        self.per_chunk_ms = per_chunk_ms
        self.max_concurrency = max_concurrency
        self.fim_responder = fim_responder
        self.chat_responder = chat_responder
        self.balance = balance
        self.base_url = ""
        self._cache = PrefixCache(cache_unit_tokens)
        self._lock = threading.Lock()
        self._queue: list[Reply] = []
        self._rules: list[Rule] = []
        self._log: list[LoggedRequest] = []
        self._in_flight = 0
        self._in_flight_completions = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self._hanging: set[int] = set()
        self._live: dict[int, bool] = {}  # id(entry) → is a completion, while in flight
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Emulator:
        """Start serving from a daemon thread; return once the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("emulator already started")
        self._ready.clear()
        self._start_error = None
        self._thread = threading.Thread(target=self._run, name="deepseek-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._start_error is not None:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError(f"emulator failed to start: {self._start_error}")
        return self

    def stop(self) -> None:
        """Close the server and every open connection, then join the thread."""
        thread, loop, ev = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and ev is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(ev.set)
        thread.join(10)
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as e:  # reported to start() if it happens before listening
            self._start_error = e
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stop_event = asyncio.Event()
        server = await asyncio.start_server(self._on_connect, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            for t in list(self._conn_tasks):
                t.cancel()
            if self._conn_tasks:
                await asyncio.gather(*self._conn_tasks, return_exceptions=True)
            await server.wait_closed()

    # ----------------------------------------------------------------- scripting API
    def script(self, *replies: Reply) -> None:
        """Queue replies (FIFO); each is consumed by one request of a matching kind."""
        with self._lock:
            self._queue.extend(replies)

    def add_rule(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def reset(self) -> None:
        """Clear the queue, the rules, the request log and the prefix cache."""
        with self._lock:
            self._queue.clear()
            self._rules.clear()
            self._log.clear()
            self._cache.clear()

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        """A thread-safe snapshot of the request log, optionally for one path."""
        with self._lock:
            return [dataclasses.replace(r, headers=dict(r.headers)) for r in self._log
                    if path is None or r.path == path]

    def wait_for(self, predicate: Callable[[list[LoggedRequest]], bool],
                 timeout: float = 5.0) -> bool:
        """Poll the log until ``predicate`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self.requests()):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    async def wait_for_async(self, predicate: Callable[[list[LoggedRequest]], bool],
                             timeout: float = 5.0) -> bool:
        """:meth:`wait_for` for async tests (does not block their event loop)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self.requests()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)

    @property
    def queued(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    # ----------------------------------------------------------------- connections
    async def _on_connect(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks.add(task)
        conn = Conn(reader, writer)
        try:
            while True:
                try:
                    req = await read_request(conn)
                except BadRequest as e:
                    with contextlib.suppress(Disconnected):
                        await self._send_json(conn, 400, error_envelope(400, str(e)), close=True)
                    break
                if req is None:
                    break
                keep = await self._dispatch(conn, req)
                if not keep or not req.keep_alive:
                    break
        except asyncio.CancelledError:
            pass
        except (Disconnected, ConnectionError, OSError):
            pass
        finally:
            self._conn_tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _send_json(self, conn: Conn, status: int, obj: Any, *, close: bool = False,
                         plain: str | None = None, entry: LoggedRequest | None = None) -> None:
        """Send a whole response in one write; ``entry`` is finished just before it."""
        if plain is not None:
            data, ctype = plain.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, ctype = json_bytes(obj), "application/json"
        headers = [("content-type", ctype), ("content-length", str(len(data)))]
        if close:
            headers.append(("connection", "close"))
        if entry is not None:
            entry.status = status
            self._finish(entry, "completed" if status == 200 else "error")
        await conn.write(head_bytes(status, headers) + data)

    async def _dispatch(self, conn: Conn, req: HttpRequest) -> bool:
        """Answer one request; return whether the connection may be reused."""
        if req.path.startswith("/_emulator/"):
            await self._control(conn, req)
            return True
        try:
            body: Any = json.loads(req.body) if req.body else None
        except (ValueError, UnicodeDecodeError):
            body = None
        is_completion = req.method == "POST" and req.path in (
            "/beta/completions", "/chat/completions", "/beta/chat/completions")
        with self._lock:
            self._in_flight += 1
            if is_completion:
                self._in_flight_completions += 1
            entry = LoggedRequest(req.method, req.path, dict(req.headers), body, req.body,
                                  started=time.monotonic(), concurrent=self._in_flight)
            over_cap = (is_completion and self.max_concurrency is not None
                        and self._in_flight_completions > self.max_concurrency)
            self._log.append(entry)
            self._live[id(entry)] = is_completion
        respond = asyncio.ensure_future(self._respond(conn, req, entry, over_cap))
        watcher = asyncio.ensure_future(conn.watch_eof())
        keep = False
        try:
            done, _ = await asyncio.wait({respond, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if respond in done:
                keep = respond.result()
            else:  # client went away while we were still answering
                respond.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await respond
                self._finish(entry, "client_disconnected", force=True)
        except Disconnected:  # may overrule a "completed" recorded just before the last write
            self._finish(entry, "client_disconnected", force=True)
        except Cut:
            self._finish(entry, "cut")
        except asyncio.CancelledError:  # emulator stopping
            respond.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await respond
            self._finish(entry, "hung" if id(entry) in self._hanging else "error")
            raise
        except Exception:
            _logger.exception("emulator fault answering %s %s", req.method, req.path)
            self._finish(entry, "error")
            with contextlib.suppress(Disconnected):
                if entry.status == 0:
                    await self._send_json(conn, 500, error_envelope(500), close=True,
                                          entry=entry)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            if not respond.done():
                respond.cancel()
            self._hanging.discard(id(entry))
            self._finish(entry, "error")  # no-op unless an outcome was missed
        return keep and not conn.eof and entry.outcome in ("completed", "error")

    def _finish(self, entry: LoggedRequest, outcome: str, *, force: bool = False) -> None:
        """Record the outcome once, and stop counting the request as in flight.

        Called just before the last write, so a client that has its answer never sees the
        request still in flight (the loop thread may be slower than the client's thread).
        """
        with self._lock:
            if entry.ended is None or force:
                entry.outcome = outcome
                entry.ended = time.monotonic()
            live = self._live.pop(id(entry), None)
            if live is not None:
                self._in_flight -= 1
                if live:
                    self._in_flight_completions -= 1

    async def _respond(self, conn: Conn, req: HttpRequest, entry: LoggedRequest,
                       over_cap: bool) -> bool:
        """Produce the answer; returns whether the connection can be kept."""
        try:
            status, obj, plain = await self._api(conn, req, entry, over_cap)
        except ApiError as e:
            status, obj, plain = e.status, error_envelope(e.status, e.message, param=e.param,
                                                          type_=e.type), (
                e.message if e.plain else None)
        if status == 0:  # already answered (completion)
            return True
        await self._send_json(conn, status, obj, plain=plain, entry=entry)
        return True

    # ----------------------------------------------------------------- API routes
    async def _api(self, conn: Conn, req: HttpRequest, entry: LoggedRequest,
                   over_cap: bool) -> tuple[int, Any, str | None]:
        routes = {
            "/beta/completions": ("POST", "fim"),
            "/chat/completions": ("POST", "chat"),
            "/beta/chat/completions": ("POST", "chat"),
            "/v1/chat/completions": ("POST", "chat"),
            "/models": ("GET", "models"),
            "/v1/models": ("GET", "models"),
            "/user/balance": ("GET", "balance"),
        }
        route = routes.get(req.path)
        if route is None:
            return 404, error_envelope(404, f"Not Found: {req.method} {req.path}"), None
        if route[0] != req.method:
            return 405, error_envelope(405, f"Method Not Allowed: {req.method} {req.path}",
                                       type_="invalid_request_error"), None
        self._check_auth(req)
        kind = route[1]
        if kind == "models":
            return 200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "deepseek"} for m in self.models]}, None
        if kind == "balance":
            cur, total = self.balance
            return 200, {"is_available": float(total) > 0, "balance_infos": [
                {"currency": cur, "total_balance": total, "granted_balance": "0.00",
                 "topped_up_balance": total}]}, None
        if over_cap:
            raise ApiError(429, "Rate Limit Reached: too many concurrent requests",
                           type_="rate_limit_error")
        try:
            body = json.loads(req.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, f"Failed to parse the request body as JSON: {e}",
                           plain=True) from e
        models = set(self.models)
        if kind == "fim":
            validate_fim(body, models)
        else:
            validate_chat(body, models, beta=req.path.startswith("/beta/"))
        reply = self._reply_for(kind, body)
        if reply.status != 200:
            await self._delay_error(entry, reply)
            raise ApiError(reply.status, reply.error_message or error_envelope(reply.status)[
                "error"]["message"], plain=reply.plain_text_error,
                type_=error_envelope(reply.status)["error"]["type"])
        plan = self._plan(kind, body, reply)
        await self._send_completion(conn, entry, reply, plan)
        return 0, None, None

    async def _delay_error(self, entry: LoggedRequest, reply: Reply) -> None:
        """Scripted errors keep their latency / hang (keep-alives do not apply)."""
        if reply.hang:
            self._hanging.add(id(entry))
            await asyncio.Event().wait()
        first_ms = reply.first_token_ms if reply.first_token_ms is not None else \
            self.first_token_ms
        if first_ms:
            await asyncio.sleep(first_ms / 1000)

    def _check_auth(self, req: HttpRequest) -> None:
        auth = req.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "Authentication Fails, no api key provided",
                           type_="authentication_error")
        if key not in self.api_keys:
            raise ApiError(401, f"Authentication Fails, Your api key: {mask_key(key)} is invalid",
                           type_="authentication_error")

    def _pick_reply(self, kind: str, prompt: str, suffix: str) -> Reply | None:
        with self._lock:
            for i, r in enumerate(self._queue):
                if r.endpoint in ("any", kind):
                    return self._queue.pop(i)
            for rule in self._rules:
                if rule.matches(kind, prompt, suffix):
                    return rule.reply
        return None

    def _reply_for(self, kind: str, body: dict[str, Any]) -> Reply:
        if kind == "fim":
            prompt, suffix = body["prompt"], body.get("suffix") or ""
        else:
            prompt, suffix = chat_prompt(body), ""
        return self._pick_reply(kind, prompt, suffix) or Reply()

    def _plan(self, kind: str, body: dict[str, Any], reply: Reply) -> Plan:
        model_input = body["prompt"] + (body.get("suffix") or "") if kind == "fim" \
            else chat_input(body)
        if reply.text is not None:
            raw = reply.text
        elif reply.chunks is not None:
            raw = "".join(reply.chunks)
        elif reply.tool_calls:
            raw = ""
        else:
            responder = self.fim_responder if kind == "fim" else self.chat_responder
            if responder is not None:
                raw = responder(body)
            else:
                raw = default_fim_text(body) if kind == "fim" else default_chat_text(body)
        finish = reply.finish_reason
        if kind == "chat" and reply.tool_calls and finish == "stop":
            finish = "tool_calls"
        gen = apply_limits(raw, body, finish)
        reasoning = None
        if kind == "chat" and thinking_enabled(body):
            reasoning = reply.reasoning if reply.reasoning is not None else DEFAULT_REASONING
        with self._lock:
            hit = self._cache.lookup_and_store(body["model"], model_input)
        prompt_tokens = count_tokens(model_input)
        reasoning_tokens = count_tokens(reasoning or "")
        completion_tokens = gen.completion_tokens + reasoning_tokens
        if reply.tool_calls:
            completion_tokens += count_tokens(json.dumps(reply.tool_calls))
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_cache_hit_tokens": hit, "prompt_cache_miss_tokens": prompt_tokens - hit,
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        }
        if kind == "chat":
            usage["prompt_tokens_details"] = {"cached_tokens": hit}
        so = body.get("stream_options") or {}
        return Plan(kind, body, gen, reasoning, usage, bool(body.get("stream")),
                    bool(so.get("include_usage")), reply.tool_calls, reply.chunks,
                    reply.usage_placement)

    # ----------------------------------------------------------------- sending answers
    async def _send_completion(self, conn: Conn, entry: LoggedRequest, reply: Reply,
                               plan: Plan) -> None:
        first_ms = reply.first_token_ms if reply.first_token_ms is not None else \
            self.first_token_ms
        chunk_ms = reply.per_chunk_ms if reply.per_chunk_ms is not None else self.per_chunk_ms
        head_sent = False
        ctype = "text/event-stream; charset=utf-8" if plan.stream else "application/json"
        headers = [("content-type", ctype), ("transfer-encoding", "chunked"),
                   ("cache-control", "no-cache")]

        async def head() -> None:
            nonlocal head_sent
            if not head_sent:
                entry.status = 200
                await conn.send_head(200, headers)
                head_sent = True

        if reply.keepalive:
            await head()
            for i in range(reply.keepalive):
                if i and reply.keepalive_interval_ms:
                    await asyncio.sleep(reply.keepalive_interval_ms / 1000)
                await conn.send_chunk(b": keep-alive\n\n" if plan.stream else b"\n")
        if reply.hang:
            self._hanging.add(id(entry))
            await asyncio.Event().wait()
        if not plan.stream:  # a whole answer takes as long as streaming it would
            first_ms += chunk_ms * max(0, len(pieces(plan)) - 1)
        if first_ms:
            await asyncio.sleep(first_ms / 1000)
        entry.usage = plan.usage
        if not plan.stream and not head_sent:
            await self._send_json(conn, 200, full_object(plan), entry=entry)
            return
        if not plan.stream:
            self._finish(entry, "completed")
            await conn.write(chunk_bytes(json_bytes(full_object(plan))) + END_CHUNKS)
            return
        await head()
        if reply.garbage_lines:
            raw = "".join(line + "\n" for line in reply.garbage_lines) + "\n"
            await conn.send_chunk(raw.encode("utf-8"))
        sent = 0
        for i, obj in enumerate(stream_objects(plan)):
            if reply.cut_after_chunks is not None and sent >= reply.cut_after_chunks:
                conn.writer.transport.abort()
                conn.eof = True
                raise Cut
            if i and chunk_ms:
                await asyncio.sleep(chunk_ms / 1000)
            await conn.send_chunk(b"data: " + json_bytes(obj) + b"\n\n")
            sent += 1
        if reply.cut_after_chunks is not None and sent >= reply.cut_after_chunks:
            conn.writer.transport.abort()
            conn.eof = True
            raise Cut
        self._finish(entry, "completed")  # before the last write: the client may be quicker
        await conn.write(chunk_bytes(b"data: [DONE]\n\n") + END_CHUNKS)

    # ----------------------------------------------------------------- control endpoints
    async def _control(self, conn: Conn, req: HttpRequest) -> None:
        try:
            status, obj = self._control_answer(req)
        except (ValueError, TypeError) as e:
            status, obj = 400, error_envelope(400, f"emulator control: {e}")
        await self._send_json(conn, status, obj)

    def _control_answer(self, req: HttpRequest) -> tuple[int, Any]:
        name = req.path[len("/_emulator/"):]
        if req.method == "GET" and name == "log":
            return 200, [r.to_json() for r in self.requests()]
        if req.method == "GET" and name == "health":
            return 200, {"ok": True, "queued": self.queued}
        if req.method != "POST":
            return 404, error_envelope(404)
        data: Any = json.loads(req.body) if req.body.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        if name == "script":
            self.script(*[Reply.from_json(r) for r in data.get("replies", [])])
        elif name == "rules":
            for r in [Rule.from_json(r) for r in data.get("rules", [])]:
                self.add_rule(r)
        elif name == "reset":
            self.reset()
        elif name == "config":
            self.configure(data)
        else:
            return 404, error_envelope(404)
        return 200, {"ok": True}

    def configure(self, data: dict[str, Any]) -> None:
        """Apply the ``/_emulator/config`` settings (same names as the attributes)."""
        allowed = {"first_token_ms", "per_chunk_ms", "api_keys", "models", "max_concurrency"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        for k, v in data.items():
            if k in ("api_keys", "models"):
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise ValueError(f"{k} must be a list of strings")
                v = tuple(v)
            elif k == "max_concurrency":
                if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                    raise ValueError("max_concurrency must be an integer or null")
            elif not isinstance(v, int | float) or isinstance(v, bool):
                raise ValueError(f"{k} must be a number")
            setattr(self, k, v)


# --------------------------------------------------------------------------- command line


def load_script(emu: Emulator, data: Any) -> None:
    """Apply a script file / control JSON: ``{"replies": [...], "rules": [...], "config": {}}``."""
    if not isinstance(data, dict):
        raise ValueError("script must be a JSON object")
    emu.script(*[Reply.from_json(r) for r in data.get("replies", [])])
    for r in data.get("rules", []):
        emu.add_rule(Rule.from_json(r))
    if data.get("config"):
        emu.configure(data["config"])


def emulate_main(argv: Sequence[str] | None = None) -> int:
    """``deepseek-fim-lsp emulate``: serve the emulator until SIGINT/SIGTERM."""
    p = argparse.ArgumentParser(prog="deepseek-fim-lsp emulate",
                                description="Run a local DeepSeek API emulator.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (0 = pick a free one)")
    p.add_argument("--key", action="append", dest="keys", metavar="K",
                   help="accepted API key (repeatable; default sk-test-key)")
    p.add_argument("--model", action="append", dest="models", metavar="M",
                   help="accepted model id (repeatable)")
    p.add_argument("--first-token-ms", type=float, default=0, help="latency before the answer")
    p.add_argument("--chunk-ms", type=float, default=0, help="delay between stream chunks")
    p.add_argument("--cache-unit-tokens", type=int, default=64, help="prefix cache unit")
    p.add_argument("--max-concurrency", type=int, default=None, help="429 above this")
    p.add_argument("--script", metavar="FILE.json", help="replies/rules to load at start")
    p.add_argument("--port-file", metavar="PATH", help="write the port here once listening")
    args = p.parse_args(argv)
    kwargs: dict[str, Any] = {}
    if args.models:
        kwargs["models"] = tuple(args.models)
    emu = Emulator(api_keys=tuple(args.keys or ["sk-test-key"]), host=args.host, port=args.port,
                   first_token_ms=args.first_token_ms, per_chunk_ms=args.chunk_ms,
                   cache_unit_tokens=args.cache_unit_tokens,
                   max_concurrency=args.max_concurrency, **kwargs)
    if args.script:
        try:
            with open(args.script, encoding="utf-8") as f:
                load_script(emu, json.load(f))
        except (OSError, ValueError, TypeError) as e:
            print(f"deepseek-fim-lsp emulate: bad --script: {e}", file=sys.stderr)
            return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()
    sigs = (signal.SIGINT, signal.SIGTERM) if in_main else ()  # handlers need the main thread
    old = {s: signal.signal(s, on_signal) for s in sigs}
    try:
        emu.start()
        if args.port_file:
            with open(args.port_file, "w", encoding="utf-8") as f:
                f.write(str(emu.port))
        print(f"deepseek-fim-lsp emulator listening on {emu.base_url}", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        emu.stop()
        for s, h in old.items():
            signal.signal(s, h)
    return 0


if __name__ == "__main__":
    sys.exit(emulate_main())
