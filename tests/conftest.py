"""Shared fixtures: a running emulator, and a factory for real LSP sessions with the server.

The server runs as its own process (``python -m deepseek_fim_lsp``, the installed package) and is
driven over stdio by pytest-lsp's client, exactly as an editor would; it makes real HTTP calls to
the emulator on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from deepseek_fim_lsp.emulator import Emulator

TEST_KEY = "sk-test-key-5f2e9c1a"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(api_keys=(TEST_KEY,)).start()
    try:
        yield emu
    finally:
        emu.stop()


def server_env(base_url: str, key: str | None = TEST_KEY, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEEPSEEK_", "PYTEST_", "COV_"))}
    env["DEEPSEEK_BASE_URL"] = base_url
    if key is not None:
        env["DEEPSEEK_API_KEY"] = key
    env.update(extra)
    return env


class Session:
    """A live LSP session plus the bits tests keep needing."""

    def __init__(self, client: LanguageClient, stderr_path: Path) -> None:
        self.client = client
        self.stderr_path = stderr_path
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}
        self.capabilities = lsp.ServerCapabilities()

    @property
    def messages(self) -> list[lsp.ShowMessageParams]:
        return list(self.client.messages)

    @property
    def log_messages(self) -> list[lsp.LogMessageParams]:
        return list(self.client.log_messages)

    def statuses(self) -> list[dict[str, Any]]:
        return [n for n in getattr(self.client, "fim_status", [])]

    def open(self, uri: str, text: str, language_id: str = "python") -> None:
        self.versions[uri] = 1
        self.texts[uri] = text
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)))

    def insert(self, uri: str, line: int, character: int, text: str) -> None:
        """Type ``text`` at a UTF-16 position (an incremental change)."""
        self.versions[uri] += 1
        pos = lsp.Position(line, character)
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            [lsp.TextDocumentContentChangePartial(range=lsp.Range(pos, pos), text=text)]))

    async def inline(self, uri: str, line: int, character: int, *,
                     invoked: bool = False) -> lsp.InlineCompletionList | None:
        kind = (lsp.InlineCompletionTriggerKind.Invoked if invoked
                else lsp.InlineCompletionTriggerKind.Automatic)
        return await self.client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                context=lsp.InlineCompletionContext(trigger_kind=kind),
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line, character)))

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text("utf-8", "replace")
        except OSError:
            return ""


@asynccontextmanager
async def lsp_session(tmp_path: Path, base_url: str, *, key: str | None = TEST_KEY,
                      init_options: dict[str, Any] | None = None,
                      env: dict[str, str] | None = None,
                      position_encodings: list[str] | None = None,
                      inline_completion: bool = False) -> AsyncIterator[Session]:
    """Start the installed server, initialize it, yield a :class:`Session`, shut down.

    ``inline_completion``: the client says it supports ``textDocument/inlineCompletion``
    (pytest-lsp's VS Code capabilities predate it)."""
    stderr_path = tmp_path / "server-stderr.log"
    state = tmp_path / "state"
    full_env = server_env(base_url, key, DEEPSEEK_FIM_STATE_DIR=str(state), **(env or {}))
    # The server's stderr goes to a file so tests can assert the key never appears in it.
    command = [sys.executable, "-c",
               "import sys, os; f = open(os.environ['FIM_TEST_STDERR'], 'w', buffering=1); "
               "os.dup2(f.fileno(), 2); sys.argv = ['deepseek-fim-lsp']; "
               "from deepseek_fim_lsp.cli import main; sys.exit(main())"]
    full_env["FIM_TEST_STDERR"] = str(stderr_path)
    cfg = ClientServerConfig(server_command=command, server_env=full_env)
    client = await cfg.start(None)  # type: ignore[arg-type]
    client.fim_status = []  # type: ignore[attr-defined]

    @client.feature("deepseekFim/status")
    def _status(params: Any) -> None:
        client.fim_status.append(params)  # type: ignore[attr-defined]

    caps = client_capabilities("visual-studio-code")
    if position_encodings is not None:
        caps.general = lsp.GeneralClientCapabilities(position_encodings=position_encodings)
    if inline_completion:
        assert caps.text_document is not None
        caps.text_document.inline_completion = lsp.InlineCompletionClientCapabilities()
    init_result = await client.initialize_session(lsp.InitializeParams(
        capabilities=caps,
        initialization_options={"debounceMs": 0, "invokedSuggestions": 1, **(init_options or {})},
        root_uri=tmp_path.as_uri()))
    session = Session(client, stderr_path)
    session.capabilities = init_result.capabilities
    try:
        yield session
    finally:
        await client.shutdown_session()
        await client.stop()


async def stats(s: Session) -> dict[str, Any]:
    """``deepseekFim/stats`` as plain dicts (the client hands back named tuples)."""
    def plain(obj: Any) -> Any:
        if hasattr(obj, "_asdict"):
            return {k: plain(v) for k, v in obj._asdict().items()}
        return obj

    return plain(await s.client.protocol.send_request_async("deepseekFim/stats", {}))  # type: ignore[no-any-return]
