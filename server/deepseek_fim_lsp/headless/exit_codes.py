"""What the headless commands share: exit codes, plain-words errors for scripts, retries.

The exit status says what happened (:data:`EXIT_CODES` is printed in ``complete --help``);
messages go to stderr, results to stdout.
"""

from __future__ import annotations

import os
import sys

from ..errors import AuthError, BalanceError, DeepSeekError, MissingKeyError
from .api import InputError, SettingsError

EXIT_OK, EXIT_EMPTY, EXIT_USAGE, EXIT_KEY, EXIT_BACKEND = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    EXIT_OK: "done",
    EXIT_EMPTY: "nothing to suggest",
    EXIT_USAGE: "usage error: bad arguments or settings, missing or unreadable file, position "
                "out of range, binary or excluded file",
    EXIT_KEY: "API key or balance problem: no key (DEEPSEEK_API_KEY), key rejected (401), "
              "balance exhausted (402)",
    EXIT_BACKEND: "backend unreachable or failing: timeout, refused connection, 5xx, 429 after "
                  "retries, model not offered",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    141: "batch: stdout was closed by the reader (e.g. | head)",
}
PROG = "deepseek-fim-lsp"


def exit_code(err: DeepSeekError) -> int:
    if isinstance(err, InputError | SettingsError):
        return EXIT_USAGE
    if isinstance(err, MissingKeyError | AuthError | BalanceError):
        return EXIT_KEY
    return EXIT_BACKEND


def retry_delay_s() -> float:
    """Base of the retry backoff (0.5 s; ``DEEPSEEK_FIM_RETRY_BASE_MS`` changes it, for tests)."""
    try:
        return max(0.0, float(os.environ.get("DEEPSEEK_FIM_RETRY_BASE_MS", "500")) / 1000)
    except ValueError:
        return 0.5


ATTEMPTS = 3


def plain(err: DeepSeekError) -> str:
    """The error's message for a script: no editor-oriented lead-in, no promise to retry."""
    text = err.user_message.removeprefix("DeepSeek FIM: ")
    if err.retryable:
        text = text.replace("backing off and retrying shortly", f"gave up after {ATTEMPTS} "
                            "attempts")
    return text


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
