"""Logging setup and the one place where secrets are scrubbed from text.

Everything the server logs or shows goes through :func:`redact`, which removes every registered
secret (the configured API key) and anything shaped like a DeepSeek/OpenAI key. Logs go to stderr
(never stdout: it carries the protocol) and, once the LSP session is up, to ``window/logMessage``.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable

_KEY_SHAPE = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=:+/]{6,}")
_secrets: set[str] = set()
_lock = threading.Lock()

LOGGER_NAME = "deepseek_fim_lsp"
logger = logging.getLogger(LOGGER_NAME)


def register_secret(secret: str | None) -> None:
    """Remember a secret so that :func:`redact` removes it wherever it appears."""
    if secret and len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    """Return ``text`` with registered secrets and key-shaped strings replaced by ``****``."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "****")
    text = _KEY_SHAPE.sub("sk-****", text)
    return _BEARER.sub(r"\1****", text)


class RedactingFormatter(logging.Formatter):
    """A formatter whose output never contains a secret, whatever the message held."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class CallbackHandler(logging.Handler):
    """Forwards records to a callable (the LSP layer's ``window/logMessage``)."""

    def __init__(self, sink: Callable[[int, str], None]) -> None:
        super().__init__()
        self._sink = sink
        self.setFormatter(RedactingFormatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._sink(record.levelno, self.format(record))
        except Exception:  # noqa: BLE001 - a log sink must never break the caller
            pass


def setup_logging(level: str = "info") -> None:
    """Send all logs to stderr with secrets scrubbed; quieten chatty libraries.

    The handler sits on the root logger so that library logs (pygls logs request params on
    errors, and those may hold the key) are scrubbed too.
    """
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) and getattr(h, "_ours", False)
               for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._ours = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    set_level(level)
    for noisy in ("httpx", "httpcore", "pygls"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def set_level(level: str) -> None:
    logging.getLogger(LOGGER_NAME).setLevel(getattr(logging, level.upper(), logging.INFO))
