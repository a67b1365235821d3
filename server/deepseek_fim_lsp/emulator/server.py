"""The HTTP side of the DeepSeek API emulator: thread and event loop, connections, request log.

:class:`EmulatorServer` serves raw HTTP/1.1 on ``asyncio.start_server`` from a daemon thread
with its own event loop (so sync and async tests can both drive it), keeps the
:class:`LoggedRequest` log, counts requests in flight and records each one's outcome,
including clients that hang up mid-answer. What to answer is left to the subclass
(:class:`~deepseek_fim_lsp.emulator.Emulator`): :meth:`EmulatorServer._api` for the API routes,
:meth:`EmulatorServer._control` for ``/_emulator/*``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from .http import (
    BadRequest,
    Conn,
    Cut,
    Disconnected,
    HttpRequest,
    head_bytes,
    json_bytes,
    read_request,
)
from .model import ApiError
from .payloads import error_envelope

# The emulator's historical logger name (the records keep it whichever module logs them).
_logger = logging.getLogger("deepseek_fim_lsp.emulator")


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


def mask_key(key: str) -> str:
    """``****abcd`` — the real API shows only the last four characters."""
    return "****" + key[-4:] if len(key) >= 4 else "****"


class EmulatorServer(abc.ABC):
    """Serves HTTP on 127.0.0.1 and keeps the request log. Use as a context manager or call
    start()/stop()."""

    def __init__(self, *, host: str, port: int, max_concurrency: int | None) -> None:
        self.host = host
        self.port = port
        self.max_concurrency = max_concurrency
        self.base_url = ""
        self._lock = threading.Lock()
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
    def start(self) -> Self:
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

    def __enter__(self) -> Self:
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

    # ----------------------------------------------------------------- request log
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

    # ----------------------------------------------------------------- answers (subclass)
    @abc.abstractmethod
    async def _api(self, conn: Conn, req: HttpRequest, entry: LoggedRequest,
                   over_cap: bool) -> tuple[int, Any, str | None]:
        """Answer an API route: (status, JSON body, plain-text body), or status 0 when the
        answer has already been sent; raise ApiError for an error answer."""

    @abc.abstractmethod
    async def _control(self, conn: Conn, req: HttpRequest) -> None:
        """Answer a ``/_emulator/*`` control request."""
