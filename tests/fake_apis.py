"""Broken API servers on 127.0.0.1 that the emulator cannot be scripted to be (shared by the
hardening and chat-cap tests)."""

from __future__ import annotations

import asyncio
import json


class EndlessApi:
    """A broken API on 127.0.0.1 that ignores ``max_tokens`` and streams one line forever."""

    def __init__(self, limit_bytes: int = 64 << 20, chunk: str = "a" * 1000) -> None:
        self.limit = limit_bytes
        self.chunk = chunk
        self.sent = 0
        self.finished = asyncio.Event()
        self.client_left = False
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    def frame(self) -> bytes:
        """One SSE event of the endless stream."""
        event = json.dumps({"id": "x", "object": "text_completion", "choices": [
            {"index": 0, "text": self.chunk, "finish_reason": None}]})
        return f"data: {event}\n\n".encode()

    async def answer_other(self, request_line: bytes, writer: asyncio.StreamWriter) -> bool:
        """Answer a request that does not get the stream (``GET /models``); True if answered."""
        if b"/models" not in request_line:
            return False
        body = json.dumps({"object": "list", "data": [
            {"id": "deepseek-v4-flash", "object": "model", "owned_by": "deepseek"}]})
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                     b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                     % (len(body), body.encode()))
        await writer.drain()
        return True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if await self.answer_other(head.split(b"\r\n")[0], writer):
                return
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                         b"connection: close\r\ntransfer-encoding: chunked\r\n\r\n")
            frame = self.frame()
            chunk = b"%x\r\n%s\r\n" % (len(frame), frame)
            while self.sent < self.limit:
                writer.write(chunk)
                await writer.drain()
                self.sent += len(frame)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.client_left = True
        finally:
            self.finished.set()
            writer.close()
