"""A faithful local emulator of the DeepSeek API, for tests, benchmarks and offline work.

It speaks raw HTTP/1.1 on ``asyncio.start_server`` (no web framework) because the things
worth testing live in the framing: SSE ``data:`` lines, ``: keep-alive`` comments, blank
lines before a JSON body, abrupt cuts, and clients that hang up mid-answer. It runs in a
daemon thread with its own event loop so sync and async tests can both drive it.

Answers come, in order of precedence, from the scripted FIFO queue (:meth:`Emulator.script`),
the first matching :class:`Rule`, the configured responder, or a deterministic default
(FIM: ``pass``, see :func:`default_fim_text`). Token counts and the prefix cache are
deterministic (see :mod:`.model`), so tests can assert exact hit counts.

Out-of-process clients script it through ``/_emulator/*`` control endpoints (no auth).

This module holds :class:`Emulator` (the API routes, the scripting API, the answers with their
scripted faults) and the ``emulate`` command. The HTTP server under it (thread, connections,
request log, in-flight accounting) is :class:`~.server.EmulatorServer`; scripted replies,
rules and their JSON forms are in :mod:`.script`; HTTP framing in :mod:`.http`; response bodies
in :mod:`.payloads`; token counts, the prefix cache and request validation in :mod:`.model`.
Import from the package (``deepseek_fim_lsp.emulator``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any

from .http import END_CHUNKS, Conn, Cut, HttpRequest, chunk_bytes, json_bytes
from .model import (
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
from .payloads import Plan, error_envelope, full_object, pieces, stream_objects
from .script import Reply, Rule, control_answer, load_script
from .server import EmulatorServer, LoggedRequest, mask_key

__all__ = [
    "Emulator",
    "LoggedRequest",
    "Reply",
    "Rule",
    "count_tokens",
    "emulate_main",
    "error_envelope",
    "load_script",
    "mask_key",
]

Responder = Callable[[dict[str, Any]], str]


class Emulator(EmulatorServer):
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
        super().__init__(host=host, port=port, max_concurrency=max_concurrency)
        self.api_keys: Collection[str] = api_keys
        self.models: Collection[str] = models
        self.first_token_ms = first_token_ms
        self.per_chunk_ms = per_chunk_ms
        self.fim_responder = fim_responder
        self.chat_responder = chat_responder
        self.balance = balance
        self._cache = PrefixCache(cache_unit_tokens)
        self._queue: list[Reply] = []
        self._rules: list[Rule] = []

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

    @property
    def queued(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._queue)

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
            status, obj = control_answer(self, req)
        except (ValueError, TypeError) as e:
            status, obj = 400, error_envelope(400, f"emulator control: {e}")
        await self._send_json(conn, status, obj)

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
