"""Completion for scripts: ``complete()`` / ``acomplete()`` and the pieces the CLI shares.

The Python API and the ``complete`` command run the same engine
(:class:`~deepseek_fim_lsp.completion.engine.Engine`) as the language
server, as *invoked* requests (no debounce) with a usage ledger that writes no state files. Lines
and columns are 1-based and columns count characters (code points), the way compilers print
positions; offsets are Python string indices.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..backends.base import (
    Backend,
    FimRequest,
    FimResult,
    StopCheck,
    WrappedBackend,
)
from ..completion.engine import Engine, default_backend
from ..completion.types import CompletionRequest, CompletionResult
from ..config import SECTION, Settings, from_env, parse
from ..errors import DeepSeekError, UnreachableError
from ..postprocess.indentation import line_index, lines_with_offsets
from ..syntax.languages import language_of_path
from ..usage import Usage, UsageLedger

__all__ = [
    "CompletionOutcome",
    "InputError",
    "SettingsError",
    "acomplete",
    "complete",
]

T = TypeVar("T")

#: Scripts want one answer per call: the server's default of 3 alternatives would triple the cost.
SCRIPT_DEFAULTS = Settings(invoked_suggestions=1)


class SettingsError(DeepSeekError, ValueError):
    """Invalid settings (an unknown key or a bad value); the message names each key."""

    kind = "settings"
    needs_user = True

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))


class InputError(DeepSeekError, ValueError):
    """Unusable input: position out of range, binary or excluded file, unreadable file."""

    kind = "input"
    needs_user = True


@dataclass(frozen=True)
class CompletionOutcome:
    """One completion: insert ``text`` at the cursor, replacing ``replace`` characters after it.

    ``text`` is empty when the model had nothing useful to add.
    """

    text: str
    replace: int
    model: str
    usage: Usage
    cost_usd: float
    #: Answered from the completion cache or by type-through (no request was sent).
    cached: bool
    latency_ms: float


# --- settings ----------------------------------------------------------------------------------


def camel(key: str) -> str:
    """``max_tokens`` → ``maxTokens`` (camelCase keys pass through unchanged)."""
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def clean_problem(problem: str) -> str:
    """A config.parse problem, minus its fall-back note (scripts stop instead of falling back)."""
    problem = problem.removeprefix(f"{SECTION}.")
    return re.sub(r"(; using .*|[;,] ignored)$", "", problem)


def overlay(raw: Mapping[str, Any], base: Settings, where: str = "") -> Settings:
    """``base`` with ``raw`` (camelCase or snake_case keys) applied; SettingsError on problems."""
    settings, problems = parse({camel(k): v for k, v in raw.items()}, base)
    if problems:
        raise SettingsError([(f"{where}: " if where else "") + clean_problem(p) for p in problems])
    return settings


def api_settings(overrides: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then ``DEEPSEEK_API_KEY`` / ``DEEPSEEK_BASE_URL``, then ``overrides``."""
    settings, problems = from_env(os.environ if env is None else env, SCRIPT_DEFAULTS)
    if problems:
        raise SettingsError([clean_problem(p) for p in problems])
    return overlay(overrides, settings)


# --- positions ---------------------------------------------------------------------------------


def offset_of(text: str, line: int, column: int, name: str = "the text") -> int:
    """The offset of 1-based ``line``/``column`` (characters); InputError when out of range."""
    if line < 1 or column < 1:
        raise InputError(f"position {line}:{column}: lines and columns start at 1")
    lines = lines_with_offsets(text)
    if line > len(lines):
        raise InputError(f"line {line} is past the end of {name} ({len(lines)} lines)")
    start, content_end, _next = lines[line - 1]
    length = content_end - start
    if column > length + 1:
        raise InputError(
            f"column {column} is past the end of line {line} of {name} ({length} "
            "characters, so "
            f"the last column is {length + 1})")
    return start + column - 1


def position_of(text: str, offset: int) -> tuple[int, int]:
    """0-based (line, character) of an offset, characters counted as code points."""
    offset = max(0, min(offset, len(text)))
    if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        offset -= 1  # inside a \r\n line break: that is the end of the line's text
    lines = lines_with_offsets(text)
    i = line_index(lines, offset)
    return i, offset - lines[i][0]


def line_count(text: str) -> int:
    return len(lines_with_offsets(text))


def guess_language(path: str | os.PathLike[str] | None) -> str:
    """An LSP language id from the file extension (``plaintext`` when unknown)."""
    return "plaintext" if path is None else language_of_path(path)


def uri_for(path: str | os.PathLike[str] | None, tag: str = "") -> str:
    """A document URI; ``tag`` (a fragment) keeps requests on the same file apart."""
    base = Path(path).absolute().as_uri() if path is not None else "untitled:script"
    return base + (f"#{tag}" if tag else "")


# --- the engine, watched for silent timeouts ---------------------------------------------------


class _Attempt:
    """Per-request note, shared with the engine's fetch task through a context variable."""

    def __init__(self) -> None:
        self.timed_out = False


_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "deepseek_fim_attempt", default=None)


class ObservedBackend(WrappedBackend):
    """Wraps a backend to notice a FIM call cut off by the engine's timeout before any text.

    The engine turns such a timeout into an empty suggestion (right for an editor); a script must
    instead hear that the backend did not answer (exit code 4, and a retry).
    """

    def __init__(self, inner: Backend, *, owned: bool = True) -> None:
        super().__init__(inner)
        self._owned = owned

    async def fim(self, request: FimRequest, *, stop_check: StopCheck | None = None,
                  partial: list[str] | None = None) -> FimResult:
        parts: list[str] = partial if partial is not None else []
        try:
            return await self.inner.fim(request, stop_check=stop_check, partial=parts)
        except asyncio.CancelledError:
            attempt = _attempt.get()
            if attempt is not None and not "".join(parts).strip():
                attempt.timed_out = True
            raise

    async def aclose(self) -> None:
        """Close the wrapped backend, unless it is shared (then its owner closes it)."""
        if self._owned:
            await self.inner.aclose()


class QuietListener:
    """Problems reach the caller as exceptions or result lines, so the engine stays silent."""

    def status(self, state: str, message: str, uri: str | None) -> None:
        pass

    def problem(self, error: DeepSeekError) -> None:
        pass

    def info(self, message: str) -> None:
        pass


def make_engine(settings: Settings, backend: Backend | None = None) -> Engine:
    """An engine for scripts: no state files; ``backend``, if given, is shared and not closed."""
    shared = backend

    def factory(s: Settings) -> Backend:
        if shared is not None:
            return ObservedBackend(shared, owned=False)
        return ObservedBackend(default_backend(s))

    return Engine(settings, listener=QuietListener(), backend_factory=factory,
                  ledger=UsageLedger(persist=False))


def outcome_of(result: CompletionResult) -> CompletionOutcome:
    first = result.items[0] if result.items else None
    return CompletionOutcome(
        text=first.text if first else "",
        replace=first.replace if first else 0,
        model=result.model,
        usage=result.usage or Usage(),
        cost_usd=result.cost_usd,
        cached=result.source in ("cache", "type_through"),
        latency_ms=result.latency_ms,
    )


async def run_once(engine: Engine, req: CompletionRequest) -> CompletionResult:
    """One engine call; problems become exceptions (typed DeepSeekError subclasses)."""
    if "\x00" in req.text:
        raise InputError("the text contains NUL bytes (a binary file?); nothing was sent")
    attempt = _Attempt()
    token = _attempt.set(attempt)
    try:
        result = await engine.complete(req)
    finally:
        _attempt.reset(token)
    if result.error is not None:
        raise result.error
    if result.source == "excluded":
        raise InputError(
            f"{req.uri.split('#')[0]} is excluded from completion (a built-in secret-file "
            "pattern or the `exclude` setting); nothing was sent")
    if result.source == "binary":
        raise InputError("binary text; nothing was sent")
    if not result.items and attempt.timed_out:
        ms = engine.settings.request_timeout_ms
        raise UnreachableError(engine.settings.base_url, f"no answer within {ms} ms")
    return result


async def with_retries(call: Callable[[], Awaitable[T]], *, attempts: int = 3,
                       base_delay_s: float = 0.5, max_delay_s: float = 8.0,
                       on_retry: Callable[[DeepSeekError, int], None] | None = None) -> T:
    """``call()``, retried on retryable errors (429, 5xx, timeouts) with jittered backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except DeepSeekError as err:
            if not err.retryable or attempt >= attempts:
                raise
            if on_retry is not None:
                on_retry(err, attempt)
            delay = min(max_delay_s, base_delay_s * 2 ** (attempt - 1))
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")  # pragma: no cover


# --- the public API ----------------------------------------------------------------------------


def _request(text: str, offset: int | None, line: int | None, column: int | None,
             language: str | None, path: str | os.PathLike[str] | None) -> CompletionRequest:
    if offset is not None and (line is not None or column is not None):
        raise InputError("give either offset or line/column, not both")
    if offset is None:
        if line is None or column is None:
            raise InputError("give the cursor: offset, or line and column (1-based)")
        offset = offset_of(text, line, column)
    elif not 0 <= offset <= len(text):
        raise InputError(f"offset {offset} is outside the text (0..{len(text)})")
    return CompletionRequest(uri_for(path), text, offset,
                             language_id=language or guess_language(path), invoked=True)


async def acomplete(text: str, offset: int | None = None, *, line: int | None = None,
                    column: int | None = None, language: str | None = None,
                    path: str | os.PathLike[str] | None = None,
                    **settings: Any) -> CompletionOutcome:
    """Complete ``text`` at the cursor (``offset``, or 1-based ``line``/``column``).

    ``path`` names the file (exclusion rules, language guess); ``settings`` override any setting
    by its camelCase or snake_case name (``max_tokens=64``, ``apiKey=...``) on top of the
    defaults and the ``DEEPSEEK_API_KEY``/``DEEPSEEK_BASE_URL`` environment. Raises
    :class:`~.errors.DeepSeekError` subclasses (``AuthError``, ``BusyError``, ``InputError``,
    ``SettingsError``, ...). No retries: wrap the call if you want them.
    """
    resolved = api_settings(settings)
    req = _request(text, offset, line, column, language, path)
    engine = make_engine(resolved)
    try:
        return outcome_of(await run_once(engine, req))
    finally:
        await engine.aclose()


def complete(text: str, offset: int | None = None, *, line: int | None = None,
             column: int | None = None, language: str | None = None,
             path: str | os.PathLike[str] | None = None, **settings: Any) -> CompletionOutcome:
    """Blocking :func:`acomplete`: runs its own event loop (in a worker thread if the calling
    thread already runs one, as in a notebook)."""
    def run() -> CompletionOutcome:
        return asyncio.run(acomplete(text, offset, line=line, column=column, language=language,
                                     path=path, **settings))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="deepseek-fim") as pool:
        return pool.submit(run).result()


def outcome_json(outcome: CompletionOutcome, text: str, offset: int) -> dict[str, Any]:
    """The JSON form of a result: 0-based range (characters = code points) and figures."""
    line, char = position_of(text, offset)
    u = outcome.usage
    return {
        "text": outcome.text,
        "range": {"start": {"line": line, "character": char},
                  "end": {"line": line, "character": char + outcome.replace}},
        "replace": outcome.replace,
        "model": outcome.model,
        "usage": {"cacheHitTokens": u.cache_hit_tokens, "cacheMissTokens": u.cache_miss_tokens,
                  "completionTokens": u.completion_tokens},
        "cost": round(outcome.cost_usd, 8),
        "cached": outcome.cached,
        "latency_ms": round(outcome.latency_ms, 1),
    }
