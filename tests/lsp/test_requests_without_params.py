"""A request without a ``params`` member is valid JSON-RPC; Neovim sends custom ones that way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def test_stats_request_without_params_is_answered() -> None:
    env = {**os.environ, "DEEPSEEK_API_KEY": "sk-test-noparams-1234",
           "DEEPSEEK_BASE_URL": "http://127.0.0.1:9"}
    proc = subprocess.Popen([sys.executable, "-m", "deepseek_fim_lsp"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin is not None and proc.stdout is not None

    def send(obj: dict[str, Any]) -> None:
        body = json.dumps(obj).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    def answer(msg_id: int) -> dict[str, Any]:
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = proc.stdout.read(1)  # type: ignore[union-attr]
                assert byte, "server closed stdout"
                header += byte
            length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
            message: dict[str, Any] = json.loads(proc.stdout.read(length))  # type: ignore[union-attr]
            if message.get("id") == msg_id:
                return message

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        answer(1)
        send({"jsonrpc": "2.0", "id": 2, "method": "deepseekFim/stats"})
        reply = answer(2)
        assert "error" not in reply, reply
        assert reply["result"]["model"] == "deepseek-v4-flash"
        send({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
        assert answer(3)["result"] is None
        send({"jsonrpc": "2.0", "method": "exit"})
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
