"""Reading JSON-RPC from the editor: framing that recovers from garbage, answers for bad messages.

pygls 2.1's stdio loop (``pygls.io_.run_async``) loses sync for good on a frame without a valid
``Content-Length`` (it then reads bodies as headers), would allocate whatever length a header
declares, and answers nothing for a body that is not JSON or not a request object, leaving the
editor waiting. This module replaces that loop, and only that loop: bytes go through a sans-IO
:class:`FrameParser`, each body through :func:`decode`, and well-formed messages on to the pygls
protocol exactly as before (``structure_message`` then ``handle_message``).

What the editor gets back (JSON-RPC 2.0):

- a body that is not UTF-8 JSON: ``-32700 Parse error`` with ``id: null``;
- valid JSON that is not a request object: ``-32600 Invalid Request``, with the request's id when
  one can be read (an integer or a string), else ``null``;
- a batch (a JSON array; LSP never sends one): one ``-32600`` with ``id: null``, nothing run;
- malformed notifications and responses: no answer (the spec forbids one), a log line only.

Bytes that are not a frame are skipped up to the next ``Content-Length:`` header; the log says how
many bytes and why, never what they held (they may be a document or a key).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple

from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.io_ import StdoutWriter
from pygls.protocol import JsonRPCProtocol
from pygls.server import JsonRPCServer

log = logging.getLogger(__name__)
_pygls_log = logging.getLogger("pygls.server")  # where pygls' own loop logged handler crashes

#: Largest body accepted; a bigger declared length is refused without reading it into memory.
MAX_BODY = 64 << 20
#: Largest header block (all header lines and the blank line); real ones are under 100 bytes.
MAX_HEADER = 8 << 10
#: How much is read from stdin at a time.
CHUNK = 1 << 16
#: Event-loop turns given to the handlers a message started before the next message is handled.
#: pygls' loop took three thread hops per message (header, blank line, body), so a request got
#: that head start before a ``$/cancelRequest`` right behind it was seen; with one turn, a
#: cancelled first request often never reached the backend, which the editor tests (and any
#: client tuned on pygls) do not expect.
PACE = 3

PARSE_ERROR = JsonRpcParseError.CODE
INVALID_REQUEST = JsonRpcInvalidRequest.CODE

_MARK = re.compile(rb"(?i)content-length:")
_MARK_LEN = len(b"content-length:")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]*")  # RFC 9110 header-name characters


@dataclass(frozen=True)
class Frame:
    """One message body, cut out by its ``Content-Length``."""

    body: bytes


@dataclass(frozen=True)
class Skipped:
    """Bytes thrown away because they were not a frame (size and reason, never content)."""

    size: int
    reason: str

    def describe(self) -> str:
        return (f"skipped {self.size} bytes of input that were not a valid LSP message "
                f"({self.reason})")


Event = Frame | Skipped


class _Bad(NamedTuple):
    reason: str
    skip: int  # bytes to drop before looking for the next Content-Length header


class FrameParser:
    """Cuts a byte stream into LSP frames (``Content-Length: N\\r\\n\\r\\n`` + N bytes).

    Header names are case-insensitive, other headers are ignored, bare ``\\n`` line ends and
    blank lines between frames are tolerated. On anything else the parser skips to the next
    ``Content-Length:`` it sees and reports the skip as one :class:`Skipped` once it is back in
    sync (or at :meth:`close`). Memory stays bounded by :data:`MAX_BODY` plus one chunk.
    """

    def __init__(self, max_body: int = MAX_BODY, max_header: int = MAX_HEADER) -> None:
        self._max_body = max_body
        self._max_header = max_header
        self._buf = bytearray()
        self._body: int | None = None  # length of the body being read, once its header is in
        self._lost = False  # out of sync: looking for the next Content-Length header
        self._skipped = 0
        self._reason = ""

    def feed(self, data: bytes) -> list[Event]:
        """Add bytes; return the frames (and skips) they complete, in stream order."""
        self._buf += data
        events: list[Event] = []
        while True:
            if self._body is not None:
                if len(self._buf) < self._body:
                    break
                with memoryview(self._buf) as view:  # one copy of the body, not two
                    events.append(Frame(bytes(view[:self._body])))
                del self._buf[:self._body]
                self._body = None
                continue
            if self._lost:
                found = _MARK.search(self._buf)
                if found is None:  # keep a tail that may be the start of a split marker
                    self._skip(max(0, len(self._buf) - _MARK_LEN + 1))
                    break
                self._skip(found.start())
                self._lost = False
            header = self._header()
            if header is None:
                break
            if isinstance(header, _Bad):
                self._reason = self._reason or header.reason
                self._lost = True
                self._skip(header.skip)
                continue
            size, length = header
            del self._buf[:size]
            if length is None:
                continue  # a blank line between frames
            if self._reason:
                events.append(self._flush())
            self._body = length
        return events

    def close(self) -> list[Event]:
        """End of input: whatever is left unframed is reported as skipped."""
        if self._buf or self._body is not None:
            self._reason = self._reason or "the input ended inside a message"
            self._skip(len(self._buf))
            self._body = None
        return [self._flush()] if self._reason else []

    def _header(self) -> tuple[int, int | None] | _Bad | None:
        """Parse the header block at the start of the buffer.

        Returns ``(block size, body length)``, ``(size, None)`` for a stray blank line, why the
        block is not valid, or ``None`` when more bytes are needed. A line that is not a header
        at all is skipped one byte at a time (a headerless body may run into the next header on
        the same line); a header with a bad value is skipped whole.
        """
        buf, pos, length = self._buf, 0, None
        while True:
            end = buf.find(b"\n", pos, self._max_header)
            if end < 0:
                if len(buf) >= self._max_header:
                    return _Bad("header block too long", 1)
                name = bytes(buf[pos:]).partition(b":")[0].removesuffix(b"\r")
                return None if _TOKEN.fullmatch(name) else _Bad("not a header line", 1)
            line = bytes(buf[pos:end]).removesuffix(b"\r")
            pos = end + 1
            if not line:
                if length is not None:
                    return pos, length
                return (pos, None) if pos <= 2 else _Bad("no Content-Length header", pos)
            name, colon, value = line.partition(b":")
            if not colon or not name or not _TOKEN.fullmatch(name):
                return _Bad("not a header line", 1)
            if name.lower() != b"content-length":
                continue
            digits = value.strip(b" \t")
            if not digits.isdigit():
                return _Bad("Content-Length is not a non-negative number", pos)
            if len(digits) > 12 or int(digits) > self._max_body:
                return _Bad(f"Content-Length over the {self._max_body >> 20} MiB limit", pos)
            if length is not None and length != int(digits):
                return _Bad("conflicting Content-Length headers", pos)
            length = int(digits)

    def _skip(self, count: int) -> None:
        del self._buf[:count]
        self._skipped += count

    def _flush(self) -> Skipped:
        skipped = Skipped(self._skipped, self._reason)
        self._skipped, self._reason = 0, ""
        return skipped


@dataclass(frozen=True)
class Rejected:
    """A body that is not a message the protocol can handle, and how to answer it."""

    code: int
    message: str
    id: int | str | None
    answer: bool  # False for notifications and responses: JSON-RPC forbids answering those

    def response(self) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": self.id,
                "error": {"code": self.code, "message": self.message}}

    def error(self) -> JsonRpcException:
        return JsonRpcException(message=self.message, code=self.code)


def decode(body: bytes) -> dict[str, Any] | Rejected:
    """The JSON object in ``body``, or why it is not a valid JSON-RPC 2.0 message."""
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Rejected(PARSE_ERROR, f"Parse error: the body is not UTF-8 (byte {exc.start})",
                        None, True)
    except json.JSONDecodeError as exc:
        return Rejected(PARSE_ERROR, f"Parse error: {exc.msg} at line {exc.lineno} column "
                        f"{exc.colno}", None, True)
    except RecursionError:
        return Rejected(PARSE_ERROR, "Parse error: the body is nested too deeply", None, True)
    if isinstance(value, list):
        return Rejected(INVALID_REQUEST, "Invalid Request: batches (JSON arrays) are not "
                        "supported by LSP", None, True)
    if not isinstance(value, dict):
        return Rejected(INVALID_REQUEST, "Invalid Request: a message must be a JSON object",
                        None, True)
    raw_id = value.get("id")
    msg_id = raw_id if isinstance(raw_id, int | str) and not isinstance(raw_id, bool) else None
    is_response = "method" not in value and ("result" in value or "error" in value)
    answer = "id" in value and not is_response

    def invalid(why: str) -> Rejected:
        return Rejected(INVALID_REQUEST, f"Invalid Request: {why}", msg_id, answer)

    if value.get("jsonrpc") != "2.0":
        return invalid('"jsonrpc" must be "2.0"')
    if "id" in value and msg_id is None and not is_response:
        return invalid("the id must be an integer or a string")
    if "method" in value:
        return value if isinstance(value["method"], str) else \
            invalid("the method must be a string")
    if is_response:
        return value if "id" in value else invalid("a response without an id")
    return invalid("the message has neither a method nor a result or an error")


Report = Callable[[Exception, type[JsonRpcException]], Any]


async def run(stop: threading.Event, read: Callable[[], Awaitable[bytes]],
              protocol: JsonRPCProtocol, report: Report) -> None:
    """The message loop: what ``pygls.io_.run_async`` does, with recovery and answers.

    ``SystemExit`` from the ``exit`` handler propagates, as with pygls.
    """
    parser = FrameParser()
    while not stop.is_set():
        data = await read()
        for event in parser.feed(data) if data else parser.close():
            if isinstance(event, Skipped):
                report(ValueError(event.describe()), JsonRpcException)
            else:
                dispatch(event.body, protocol, report)
                for _ in range(PACE):
                    await asyncio.sleep(0)
        if not data:
            break


def dispatch(body: bytes, protocol: JsonRPCProtocol, report: Report) -> None:
    """Hand one body to the protocol, or answer (and report) why it cannot be handled."""
    message = decode(body)
    if isinstance(message, Rejected):
        if message.answer:
            protocol._send_data(message.response())
        report(message.error(), JsonRpcException)
        return
    try:
        protocol.handle_message(protocol.structure_message(message))
    except Exception as exc:
        _pygls_log.exception("Unable to handle message")
        report(exc, JsonRpcException)


def chunk_reader(stdin: BinaryIO, executor: Executor | None) -> Callable[[], Awaitable[bytes]]:
    """Reads whatever stdin has (up to :data:`CHUNK`), in a thread so the loop keeps running."""
    read1 = getattr(stdin, "read1", None)
    read: Callable[[], bytes] = (
        (lambda: read1(CHUNK)) if callable(read1)
        else (lambda: os.read(stdin.fileno(), CHUNK)))

    def next_chunk() -> Awaitable[bytes]:
        return asyncio.get_running_loop().run_in_executor(executor, read)
    return next_chunk


def start_io(server: JsonRPCServer, stdin: BinaryIO | None = None,
             stdout: BinaryIO | None = None) -> None:
    """pygls' ``JsonRPCServer._start_io_async`` with :func:`run` as the loop."""
    server._stop_event = stop = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    read = chunk_reader(stdin or sys.stdin.buffer, server.thread_pool)
    try:
        asyncio.run(run(stop, read, server.protocol, server.report_server_error))
    except BrokenPipeError:
        log.error("Connection to the client is lost! Shutting down the server.")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]  # (pygls leaves it untyped)
