"""Raw HTTP/1.1 plumbing for the DeepSeek API emulator.

Hand-written on asyncio streams (no framework) so the emulator controls every byte: chunked
SSE framing, keep-alive comments, abrupt closes, and noticing a client that hangs up while
its answer is still being prepared (a watcher task reads ahead into :attr:`Conn.buf`).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
            404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
            422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}

class Disconnected(Exception):
    """The client went away while we were answering."""


class Cut(Exception):
    """A scripted abrupt close."""


class Conn:
    """One client connection with a pushback buffer, so a watcher task can read ahead."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.eof = False

    async def read_more(self) -> bool:
        if self.eof:
            return False
        try:
            data = await self.reader.read(65536)
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    async def watch_eof(self) -> None:
        """Return when the client closes (or resets) the connection."""
        while await self.read_more():
            pass

    async def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise Disconnected
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            raise Disconnected from e

    async def send_head(self, status: int, headers: list[tuple[str, str]]) -> None:
        await self.write(head_bytes(status, headers))

    async def send_chunk(self, data: bytes) -> None:
        if data:
            await self.write(chunk_bytes(data))


def head_bytes(status: int, headers: list[tuple[str, str]]) -> bytes:
    """Status line and headers, with the blank line that ends them."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append("date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
    lines.append("server: deepseek-fim-lsp-emulator")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk_bytes(data: bytes) -> bytes:
    """One chunk of a ``Transfer-Encoding: chunked`` body."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


END_CHUNKS = b"0\r\n\r\n"


@dataclass
class HttpRequest:
    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"


class BadRequest(Exception):
    pass


async def read_request(conn: Conn) -> HttpRequest | None:
    """Parse one request from the connection; None on a clean EOF between requests."""
    while b"\r\n\r\n" not in conn.buf:
        if len(conn.buf) > 65536:
            raise BadRequest("header too large")
        if not await conn.read_more():
            if conn.buf.strip():
                raise BadRequest("truncated request")
            return None
    head, _, rest = bytes(conn.buf).partition(b"\r\n\r\n")
    conn.buf = bytearray(rest)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise BadRequest("bad request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest("bad header")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked_body(conn)
    elif "content-length" in headers:
        try:
            n = int(headers["content-length"])
        except ValueError as e:
            raise BadRequest("bad content-length") from e
        if n > 64 * 1024 * 1024:
            raise BadRequest("body too large")
        while len(conn.buf) < n:
            if not await conn.read_more():
                raise BadRequest("truncated body")
        body, conn.buf = bytes(conn.buf[:n]), conn.buf[n:]
    path = target.split("?", 1)[0]
    return HttpRequest(method, path, version, headers, body)


async def _read_chunked_body(conn: Conn) -> bytes:
    out = bytearray()
    while True:
        while b"\r\n" not in conn.buf:
            if not await conn.read_more():
                raise BadRequest("truncated chunk")
        line, _, rest = bytes(conn.buf).partition(b"\r\n")
        conn.buf = bytearray(rest)
        size = int(line.split(b";")[0].strip() or b"0", 16)
        while len(conn.buf) < size + 2:
            if not await conn.read_more():
                raise BadRequest("truncated chunk")
        if size == 0:  # skip trailers (assume none beyond the final CRLF)
            conn.buf = conn.buf[2:]
            return bytes(out)
        out += conn.buf[:size]
        conn.buf = conn.buf[size + 2:]


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
