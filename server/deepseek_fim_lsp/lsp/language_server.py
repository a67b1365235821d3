"""The server object: our protocol (own document store, an answer for every malformed request)
and the :class:`FimLanguageServer` that holds the documents, the engine and the user-facing
messages. The handlers live in :mod:`.server` and :mod:`.actions`, which register on an instance.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator
from typing import Any, BinaryIO

from lsprotocol import types as lsp
from pygls.exceptions import FeatureRequestError, JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from .. import config
from ..completion.engine import Engine
from ..errors import DeepSeekError
from ..log import register_secret, set_level
from ..version import __version__
from . import transport
from .documents import DocumentStore, PositionError

log = logging.getLogger(__name__)

STATUS = "deepseekFim/status"


#: Stands in for a request that was already answered with an error while being decoded.
_ANSWERED = object()


class FimProtocol(LanguageServerProtocol):
    """Keeps documents in our own store (LSP line breaks only, local line-index updates)."""

    _server: FimLanguageServer

    def structure_message(self, data: dict[str, Any]) -> Any:
        """A request whose params do not fit its method still gets an answer (InvalidParams).

        pygls drops such a request with only a log line, leaving the editor waiting forever.
        A request without ``params`` (Neovim sends custom requests that way) gets ``null``
        params: pygls' generic request type requires the field.
        """
        if isinstance(data, dict) and "jsonrpc" in data and "method" in data \
                and "params" not in data:  # a request or notification, not a response
            data = {**data, "params": None}
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            msg_id = data.get("id")
            if "method" in data and isinstance(msg_id, int | str):
                self._send_response(msg_id, error=exc.to_response_error())
                return _ANSWERED
            raise

    def handle_message(self, message: Any) -> None:
        if message is _ANSWERED:
            return
        super().handle_message(message)

    @lsp_method(lsp.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """pygls' own version cancels pending requests while iterating over the dict that the
        cancellation callbacks shrink ("dictionary changed size during iteration")."""
        if (user_handler := self.fm.features.get(lsp.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    @lsp_method(lsp.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: lsp.DidOpenTextDocumentParams) -> None:
        td = params.text_document
        self._server.docs.open(td.uri, td.text, td.language_id, td.version)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams) -> None:
        server = self._server
        doc = server.docs.get(params.text_document.uri)
        if doc is None:
            log.warning("didChange for a document that was never opened: %s",
                        params.text_document.uri)
            return
        for change in params.content_changes:
            if isinstance(change, lsp.TextDocumentContentChangePartial):
                try:
                    start = doc.offset_at(change.range.start.line, change.range.start.character,
                                          server.encoding)
                    end = doc.offset_at(change.range.end.line, change.range.end.character,
                                        server.encoding)
                except PositionError as exc:
                    log.warning("ignoring an edit outside the document: %s", exc)
                    continue
                doc.apply_change(start, max(start, end), change.text)
            else:
                doc.replace_all(change.text)
        doc.version = params.text_document.version

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: lsp.DidCloseTextDocumentParams) -> None:
        self._server.docs.close(params.text_document.uri)
        self._server.engine.type_through.forget(params.text_document.uri)


class FimLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("deepseek-fim-lsp", __version__, protocol_cls=FimProtocol)
        self.docs = DocumentStore()
        env_settings, self._env_problems = config.from_env(os.environ)
        self.base_settings = env_settings
        register_secret(env_settings.api_key)
        self.engine = Engine(env_settings, listener=_Listener(self))
        self._last_status: tuple[str, str] | None = None
        self._told: set[str] = set()

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve stdio with :mod:`transport`'s loop: pygls' own loses sync on a bad frame and
        leaves a body that is not a JSON-RPC request unanswered."""
        transport.start_io(self, stdin, stdout)

    @property
    def encoding(self) -> str:
        try:
            enc = self.workspace.position_encoding
        except RuntimeError:
            return "utf-16"
        return str(enc.value if isinstance(enc, lsp.PositionEncodingKind) else enc or "utf-16")

    # --- user-facing messages -----------------------------------------------------------------

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log it and tell the user once in plain words; pygls would pop up every malformed
        message's raw Python error."""
        if source is FeatureRequestError:
            return  # the request's error response already says it
        log.error("could not handle a message from the editor: %s", error)
        self.tell_once("DeepSeek FIM: the server could not handle a message from the editor; "
                       "details are in the log.", lsp.MessageType.Error)

    def show(self, message: str, kind: lsp.MessageType = lsp.MessageType.Warning) -> None:
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=message))

    def tell_once(self, message: str, kind: lsp.MessageType = lsp.MessageType.Warning) -> None:
        if message not in self._told:
            self._told.add(message)
            self.show(message, kind)

    def send_status(self, state: str, message: str, uri: str | None) -> None:
        if self._last_status == (state, message):
            return
        self._last_status = (state, message)
        self.protocol.notify(STATUS, {"state": state, "message": message, "uri": uri})

    # --- settings -----------------------------------------------------------------------------

    def apply_settings(self, raw: Any, *, base: config.Settings | None = None) -> None:
        settings, problems = config.parse(raw, base or self.base_settings)
        register_secret(settings.api_key)
        set_level(settings.log_level)
        for problem in problems:
            log.warning("%s", problem)
            self.tell_once(f"DeepSeek FIM settings: {problem}")
        self.engine.update_settings(settings)
        if not settings.enabled:
            self.send_status("disabled", "completion is turned off", None)


class _Listener:
    def __init__(self, server: FimLanguageServer) -> None:
        self._server = server

    def status(self, state: str, message: str, uri: str | None) -> None:
        self._server.send_status(state, message, uri)

    def problem(self, error: DeepSeekError) -> None:
        kind = lsp.MessageType.Error if error.needs_user else lsp.MessageType.Warning
        self._server.show(error.user_message, kind)

    def info(self, message: str) -> None:
        self._server.show(message, lsp.MessageType.Info)
