"""``complete --batch``: many completions, concurrently, one JSON result line per request.

Results are written in input order, each as soon as it and every earlier one are done, so a
consumer can stream them. One engine per distinct settings and one HTTP backend per endpoint are
shared by all workers. Ctrl-C (or SIGTERM) cancels what is in flight and leaves only complete
lines: every finished result is written; an unfinished request that stands before a finished one
gets an ``interrupted`` error line so that order is kept.

Usage is counted once per API call. Identical requests in flight at once share one call (the
engine joins them); the line whose request made the call reports its usage and cost, the others
report like a cache hit (``cached: true``, zero tokens and cost) — the same as when they run one
after another. Summed over the lines, tokens and cost equal what was actually billed.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm  # type: ignore[import-untyped]

from ..backends.base import (
    Backend,
    FimRequest,
    FimResult,
    StopCheck,
    WrappedBackend,
)
from ..backends.deepseek import DeepSeekBackend
from ..completion.engine import Engine
from ..config import Settings
from ..errors import AuthError, BalanceError, DeepSeekError, MissingKeyError
from ..usage import Usage
from .api import make_engine, outcome_json, outcome_of, run_once, with_retries
from .exit_codes import (
    ATTEMPTS,
    EXIT_BACKEND,
    EXIT_INTERRUPTED,
    EXIT_KEY,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    exit_code,
    plain,
    retry_delay_s,
    say,
)
from .requests import TaggedError, parse_line, request_id


@dataclass
class _Meter:
    """The API calls one batch request made itself (its engine fetch runs in its context)."""

    calls: int = 0


_meter: contextvars.ContextVar[_Meter | None] = contextvars.ContextVar(
    "deepseek_fim_batch_meter", default=None)


class _MeteredBackend(WrappedBackend):
    """Counts FIM calls: per batch request (through :data:`_meter`) and in all.

    A request that joined another one's call in flight made no call of its own; that is how its
    line knows not to report the shared call's usage a second time.
    """

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.calls = 0

    async def fim(self, request: FimRequest, *, stop_check: StopCheck | None = None,
                  partial: list[str] | None = None) -> FimResult:
        self.calls += 1
        meter = _meter.get()
        if meter is not None:
            meter.calls += 1
        return await self.inner.fim(request, stop_check=stop_check, partial=partial)


@dataclass
class _Totals:
    done: int = 0
    empty: int = 0
    failed: int = 0
    cache_hit: int = 0
    cache_miss: int = 0
    output: int = 0
    cost: float = 0.0
    codes: set[int] = field(default_factory=set)


class Batch:
    def __init__(self, lines: list[str], settings: Settings, concurrency: int) -> None:
        self.settings = settings
        self.concurrency = concurrency
        # (input line number, raw line) for every non-blank line
        self.jobs = [(n, s) for n, s in enumerate(lines, 1) if s.strip()]
        self.results: list[str | None] = [None] * len(self.jobs)
        self.written = 0
        self.next_job = 0
        self.totals = _Totals()
        self.engines: dict[Settings, Engine] = {}
        self.backends: dict[tuple[str, str | None, int], _MeteredBackend] = {}
        self.fatal: DeepSeekError | None = None
        self.bar: Any = None
        self.retry_delay_s = retry_delay_s()
        self.workers: list[asyncio.Future[None]] = []
        self.stopped_by: list[int] = []
        self.pipe_closed = False

    # --- one request -------------------------------------------------------------------------

    def _engine(self, settings: Settings) -> Engine:
        engine = self.engines.get(settings)
        if engine is None:
            key = (settings.base_url, settings.api_key, settings.request_timeout_ms)
            backend = self.backends.get(key)
            if backend is None:
                backend = _MeteredBackend(DeepSeekBackend(
                    settings.base_url, settings.api_key,
                    timeout_s=settings.request_timeout_ms / 1000))
                self.backends[key] = backend
            engine = self.engines[settings] = make_engine(settings, backend)
        return engine

    async def _process(self, index: int) -> str:
        number, raw = self.jobs[index]
        rid: Any = number
        meter = _Meter()
        token = _meter.set(meter)
        try:
            rid, settings, req = parse_line(index, number, raw, self.settings)
            if self.fatal is not None:
                raise self.fatal
            engine = self._engine(settings)
            result = await with_retries(lambda: run_once(engine, req), attempts=ATTEMPTS,
                                        base_delay_s=self.retry_delay_s)
        except TaggedError as tagged:
            return self._failed(tagged.rid, tagged.error)
        except DeepSeekError as err:
            return self._failed(rid, err)
        finally:
            _meter.reset(token)
        outcome = outcome_of(result)
        if result.source in ("backend", "empty") and meter.calls == 0:
            # answered by an identical request's call: its line reports that call's usage
            outcome = dataclasses.replace(outcome, usage=Usage(), cost_usd=0.0, cached=True)
        t = self.totals
        t.done += 1
        t.empty += not outcome.text
        t.cache_hit += outcome.usage.cache_hit_tokens
        t.cache_miss += outcome.usage.cache_miss_tokens
        t.output += outcome.usage.completion_tokens
        t.cost += outcome.cost_usd
        return json.dumps({"id": rid, **outcome_json(outcome, req.text, req.offset)},
                          ensure_ascii=False)

    def _failed(self, rid: Any, err: DeepSeekError) -> str:
        if isinstance(err, MissingKeyError | AuthError | BalanceError) and self.fatal is None:
            self.fatal = err  # every later request would fail the same way: do not send them
        self.totals.failed += 1
        self.totals.codes.add(exit_code(err))
        return json.dumps({"id": rid, "error": {"kind": err.kind, "message": plain(err)}},
                          ensure_ascii=False)

    # --- the run -----------------------------------------------------------------------------

    def _flush(self) -> None:
        if self.pipe_closed:
            return
        if self.results[self.written:self.written + 1] == [None]:
            return
        if self.bar is not None and not self.bar.disable and sys.stdout.isatty():
            with tqdm.external_write_mode(file=sys.stdout):  # lift the bar off the terminal
                self._write_ready()
        else:
            self._write_ready()

    def _write_ready(self) -> None:
        out = sys.stdout.buffer
        wrote = False
        try:
            while self.written < len(self.results) and self.results[self.written] is not None:
                out.write((self.results[self.written] or "").encode("utf-8") + b"\n")
                self.written += 1
                wrote = True
            if wrote:
                out.flush()
        except BrokenPipeError:  # the reader went away (`| head`): stop, nobody is listening
            self.pipe_closed = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            self._stop(signal.SIGPIPE)

    def _stop(self, signum: int) -> None:
        if not self.stopped_by:
            self.stopped_by.append(signum)
            for w in self.workers:
                w.cancel()

    async def _worker(self) -> None:
        while self.next_job < len(self.jobs):
            index = self.next_job
            self.next_job += 1
            self.results[index] = await self._process(index)
            self._flush()
            if self.bar is not None:
                self.bar.update(1)

    def _flush_interrupted(self) -> None:
        """Keep order: unfinished requests before the last finished one become error lines."""
        last = max((i for i, r in enumerate(self.results) if r is not None), default=-1)
        for i in range(self.written, last + 1):
            if self.results[i] is None:
                number, raw = self.jobs[i]
                rid = request_id(number, raw)
                self.results[i] = json.dumps({"id": rid, "error": {
                    "kind": "interrupted", "message": "interrupted before it finished"}})
        self._flush()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        stopped_by = self.stopped_by
        workers = self.workers = [asyncio.ensure_future(self._worker())
                                  for _ in range(min(self.concurrency, len(self.jobs)))]
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._stop, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
                pass
        self.bar = tqdm(total=len(self.jobs), file=sys.stderr, unit="req", leave=False,
                        disable=not sys.stderr.isatty())
        try:
            results = await asyncio.gather(*workers, return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                    raise r
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            self.bar.close()
            if stopped_by:
                self._flush_interrupted()
            for engine in self.engines.values():
                await engine.aclose()
            for backend in self.backends.values():
                await backend.aclose()
            self._summary(time.monotonic() - started, interrupted=bool(stopped_by))
        if stopped_by:
            return EXIT_INTERRUPTED if stopped_by[0] == signal.SIGINT else 128 + stopped_by[0]
        codes = self.totals.codes
        for code in (EXIT_KEY, EXIT_BACKEND, EXIT_USAGE):
            if code in codes:
                return code
        return EXIT_OK

    def _summary(self, seconds: float, *, interrupted: bool) -> None:
        t = self.totals
        tokens = t.cache_hit + t.cache_miss + t.output
        head = "stopped (stdout was closed): " if self.pipe_closed else \
            "interrupted: " if interrupted else ""
        calls = sum(b.calls for b in self.backends.values())
        say(f"{PROG}: {head}{t.done} done ({t.empty} with nothing to suggest), {t.failed} failed"
            f" of {len(self.jobs)}; {calls} API request{'s' if calls != 1 else ''}; "
            f"{tokens:,} tokens (prompt {t.cache_hit:,} cache hit + "
            f"{t.cache_miss:,} miss, {t.output:,} output); ${t.cost:.6f}; {seconds:.1f} s")


def run_batch(source: str, settings: Settings, *, concurrency: int) -> int:
    """Run the requests in ``source`` (a JSON-lines file, or ``-`` for stdin)."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read()
        else:
            data = Path(source).read_bytes()
    except OSError as exc:
        say(f"{PROG}: cannot read {source}: {exc.strerror or exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    try:
        lines = data.decode("utf-8-sig").split("\n")  # not splitlines: U+2028 is valid JSON
    except UnicodeDecodeError as exc:
        say(f"{PROG}: {source} is not UTF-8 JSON lines ({exc})")
        return EXIT_USAGE
    if not settings.api_key:
        say(f"{PROG}: {plain(MissingKeyError())}")
        return EXIT_KEY
    try:
        return asyncio.run(Batch(lines, settings, concurrency).run())
    except KeyboardInterrupt:  # a second Ctrl-C, or no signal handler (Windows)
        return EXIT_INTERRUPTED
