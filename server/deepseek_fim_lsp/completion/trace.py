"""The debug line: one per completion request, saying what happened to it.

``logLevel: debug`` logs, for every answer the engine gives, the document's file name (never its
path or text), the trigger, the decision (the result's source: cache, type_through, backend,
superseded, empty, error, ...), the token figures of the window and of the answer, and the
latency. Never code text, never the key.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from cachetools import LRUCache

from ..context.tokens import estimate_tokens
from ..context.window import FimWindow
from .types import CompletionRequest, CompletionResult

log = logging.getLogger("deepseek_fim_lsp.completion.engine")


def document_name(uri: str) -> str:
    """The file name of a document URI (``file:///a/b/c.py`` → ``c.py``): enough to tell
    requests apart in a log, without the path."""
    path = urlsplit(uri).path
    return PurePosixPath(unquote(path)).name or path.rsplit(":", 1)[-1] or "untitled"


class Trace:
    """Remembers the window built per document, and logs the line for each answer."""

    def __init__(self) -> None:
        self._windows: LRUCache[str, tuple[str, int, FimWindow]] = LRUCache(maxsize=64)

    def built(self, req: CompletionRequest, window: FimWindow) -> None:
        self._windows[req.uri] = (req.text, req.offset, window)

    def answered(self, req: CompletionRequest, result: CompletionResult) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        seen = self._windows.get(req.uri)
        window = seen[2] if seen and seen[0] is req.text and seen[1] == req.offset else None
        usage = result.usage
        log.debug(
            "completion doc=%s trigger=%s decision=%s prompt_tokens=%s suffix_tokens=%s "
            "cache_hit_tokens=%s items=%d latency_ms=%.0f%s", document_name(req.uri),
            "invoked" if req.invoked else "automatic", result.source,
            estimate_tokens(window.prompt) if window else "-",
            estimate_tokens(window.suffix) if window else "-",
            usage.cache_hit_tokens if usage else "-", len(result.items), result.latency_ms,
            f" error={result.error.kind}" if result.error else "")
