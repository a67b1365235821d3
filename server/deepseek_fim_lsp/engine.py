"""The completion pipeline, free of LSP: request in, suggestions out.

One :class:`Engine` serves the language server, the ``complete`` CLI and the benchmarks. For each
request it checks, in order: switches and exclusions, type-through, the debounce (automatic
triggers only; a newer request for the same document supersedes this one), the exact cache, and
only then the backend — streaming, stopping as soon as the suggestion is complete — and cleans the
answer up. Problems become one plain-words message per kind (via the listener), never an exception
to the caller.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cachetools import LRUCache

from .backends.base import Backend, Usage
from .backends.deepseek import DeepSeekBackend
from .cache import CompletionCache, Remainder, Snapshot, TypeThrough
from .completion_types import (
    CompletionItem,
    CompletionRequest,
    CompletionResult,
    EngineListener,
    Fetched,
    NullListener,
)
from .config import Settings
from .context import FimWindow, OpenDocument, build_window
from .errors import (
    AuthError,
    BalanceError,
    DeepSeekError,
    MissingKeyError,
    UnknownModelError,
)
from .fim_call import CallResult, fim_call, newline_in
from .postprocess import Mode, Suggestion, choose_mode
from .privacy import effective_patterns, is_excluded
from .scheduler import Scheduler, SharedFetch, Superseded
from .usage import UsageLedger

__all__ = [
    "CompletionItem",
    "CompletionRequest",
    "CompletionResult",
    "Engine",
    "EngineListener",
    "NullListener",
    "default_backend",
]

log = logging.getLogger(__name__)

BackendFactory = Callable[[Settings], Backend]
T = TypeVar("T")


@dataclass(frozen=True)
class _Pending:
    """A fetch in flight and the document state it is for."""

    state: Snapshot
    fetch: SharedFetch[Fetched]
    #: For a prefetch: the suggestion it continues (serial, length held when it was asked).
    continues: tuple[int, int] = (0, 0)


def _outcome(future: asyncio.Future[T]) -> T | None:
    """The result of a finished future, or None if it was cancelled or failed (whoever awaited
    it deals with the failure)."""
    if future.cancelled() or future.exception() is not None:
        return None
    return future.result()


def default_backend(settings: Settings) -> Backend:
    return DeepSeekBackend(settings.base_url, settings.api_key,
                           timeout_s=settings.request_timeout_ms / 1000)


@dataclass
class _Backoff:
    delay_s: float = 0.0
    until: float = 0.0

    def hit(self) -> None:
        self.delay_s = min(30.0, max(1.0, self.delay_s * 2))
        self.until = time.monotonic() + self.delay_s * random.uniform(0.8, 1.2)

    def clear(self) -> None:
        self.delay_s, self.until = 0.0, 0.0

    @property
    def active(self) -> bool:
        return time.monotonic() < self.until


@dataclass
class _Problems:
    """Which problem kinds the user has been told about, so each is told once until it clears."""

    shown: set[str] = field(default_factory=set)
    last: DeepSeekError | None = None

    def report(self, err: DeepSeekError, listener: EngineListener) -> None:
        self.last = err
        if err.kind not in self.shown:
            self.shown.add(err.kind)
            listener.problem(err)

    def clear(self) -> None:
        self.shown.clear()


class Engine:
    def __init__(self, settings: Settings, *, listener: EngineListener | None = None,
                 backend_factory: BackendFactory = default_backend,
                 ledger: UsageLedger | None = None) -> None:
        self.listener: EngineListener = listener or NullListener()
        self._factory = backend_factory
        self._settings = settings
        self._backend: Backend = backend_factory(settings)
        self._patterns = effective_patterns(settings.exclude)
        self.cache: CompletionCache[Fetched] = CompletionCache(settings.cache_size)
        self.type_through = TypeThrough()
        self.type_through.enabled = settings.type_through
        self._pending: LRUCache[str, _Pending] = LRUCache(maxsize=64)
        self._ahead: LRUCache[str, _Pending] = LRUCache(maxsize=64)  # prefetches in flight
        self._prefetched: LRUCache[tuple[int, int], bool] = LRUCache(maxsize=256)
        #: Serials of type-through entries whose lookahead line is still streaming.
        self._awaiting_lookahead: set[int] = set()
        #: The state of the last request per document, to tell a cursor move from an edit.
        self._last_state: LRUCache[str, tuple[str, int]] = LRUCache(maxsize=64)
        self.scheduler = Scheduler()
        self.ledger = ledger or UsageLedger()
        self._inflight: dict[tuple[object, ...], SharedFetch[Fetched]] = {}
        self._ids = itertools.count(1)
        self._shown_ids: LRUCache[str, bool] = LRUCache(maxsize=1024)
        self._backoff = _Backoff()
        self._problems = _Problems()
        self._blocked: DeepSeekError | None = None  # auth/balance: no automatic requests
        self._budget_told = False
        self._tasks: set[asyncio.Task[object]] = set()
        self.model_available: bool | None = None
        self.backend_requests = 0
        self._started = False

    # --- settings and lifecycle ---------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def last_error(self) -> DeepSeekError | None:
        return self._problems.last

    def update_settings(self, settings: Settings) -> None:
        old = self._settings
        self._settings = settings
        self._patterns = effective_patterns(settings.exclude)
        self.cache.resize(settings.cache_size)
        self.type_through.enabled = settings.type_through
        if (old.base_url, old.api_key, old.request_timeout_ms) != (
            settings.base_url, settings.api_key, settings.request_timeout_ms
        ):
            stale = self._backend
            self._backend = self._factory(settings)
            self._spawn(stale.aclose())
            self._blocked = None
            self._backoff.clear()
            self._problems.clear()
        if (old.model, old.base_url, old.api_key) != (
            settings.model, settings.base_url, settings.api_key
        ):
            self.model_available = None
            self._blocked = None
            if self._started and settings.api_key:
                self._spawn(self.check_model())

    def start(self) -> None:
        """Say what is wrong right away (missing key) and check the model in the background."""
        self._started = True
        if not self._settings.api_key:
            self._problems.report(MissingKeyError(), self.listener)
            self.listener.status("error", "no API key", None)
            return
        self._spawn(self.check_model())

    async def check_model(self) -> bool | None:
        """``GET /models`` once; tell the user if the configured model is not offered."""
        settings = self._settings
        try:
            offered = await self._backend.models()
        except DeepSeekError as err:
            log.info("model check failed: %s", err.user_message)
            if isinstance(err, AuthError | BalanceError):
                self._problems.report(err, self.listener)
            return None
        if settings is not self._settings:
            return None
        self.model_available = settings.model in offered
        if not self.model_available:
            self._problems.report(UnknownModelError(settings.model, offered), self.listener)
        else:
            log.info("model %s is offered by %s", settings.model, settings.base_url)
        return self.model_available

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed: %r", task.exception())

    async def aclose(self) -> None:
        self.scheduler.cancel_all()
        for task in list(self._tasks):
            task.cancel()
        for fetch in list(self._inflight.values()):
            fetch.task.cancel()
        self.ledger.flush()
        await self._backend.aclose()

    @property
    def backend(self) -> Backend:
        return self._backend

    def accepted(self, item_id: str) -> bool:
        """The client reports that an item was accepted; counted once per item."""
        if self._shown_ids.pop(item_id, None):
            self.ledger.count("accepted")
            return True
        return False

    # --- the pipeline -------------------------------------------------------------------------

    async def complete(self, req: CompletionRequest) -> CompletionResult:
        started = time.perf_counter()
        settings = self._settings

        def done(source: str, items: Sequence[Suggestion] = (), **kw: object) -> CompletionResult:
            out = tuple(CompletionItem(str(next(self._ids)), s.text, s.replace) for s in items)
            if out:
                self.ledger.count("suggestionsShown")
                for item in out:
                    self._shown_ids[item.id] = True
            return CompletionResult(out, source, latency_ms=(time.perf_counter() - started) * 1e3,
                                    model=settings.model, **kw)  # type: ignore[arg-type]

        if not (0 <= req.offset <= len(req.text)):
            return done("empty")
        if not settings.enabled and not req.invoked:
            return done("disabled")
        if settings.manual_only and not req.invoked:
            return done("disabled")
        if is_excluded(req.uri, self._patterns):
            self.listener.status("inactive", "this file is excluded from completion", req.uri)
            return done("excluded")
        last = self._last_state.get(req.uri)
        moved = last is not None and last[0] == req.text  # nothing typed: the cursor moved
        # Moved away from a suggestion being typed: usually a glance at other code.
        glance = moved and last is not None and last[1] != req.offset and \
            self.type_through.remainder(req.uri, req.text, last[1]) is not None
        self._last_state[req.uri] = (req.text, req.offset)
        if "\x00" in req.text:
            self.listener.status("inactive", "binary document: not sent", req.uri)
            return done("binary")
        if not settings.api_key:
            self._problems.report(MissingKeyError(), self.listener)
            return done("error", error=MissingKeyError())

        def typed_through() -> CompletionResult | None:
            """The rest of the suggestion being typed, if this state is typed through it."""
            through = self.type_through.lookup(req.uri, req.text, req.offset)
            if through is None:
                return None
            self.ledger.count("typeThroughHits")
            return done("type_through", through)

        # Type-through: the user is typing what we suggested. No wait, no request; requests
        # for older states of the document are superseded (their answer is no longer wanted).
        if (answer := typed_through()) is not None:
            self.scheduler.take(req.uri).close()
            self._maybe_prefetch(req, defer=True)
            return answer

        if not req.invoked:
            # At the very end of a suggestion (``}`` typed): ask for the next line's start now,
            # rather than for this state after a debounce; this request waits for it below.
            self._maybe_prefetch(req, defer=False)
        # Typing on while a request is in flight: keep that request (do not cancel and re-ask)
        # and answer from it by type-through when it lands.
        joined = self._joinable(req)
        if joined is not None:
            joined.waiters += 1  # held across the supersession just below
        ticket = self.scheduler.take(req.uri)
        try:
            if joined is not None:
                try:
                    await ticket.wait(joined)
                except DeepSeekError:
                    pass  # the request that started it reports the error
                finally:
                    joined.release()
                if (answer := typed_through()) is not None:
                    return answer
            if not req.invoked and self.type_through.ends_here(req.uri, req.text, req.offset):
                return done("empty")  # asked ahead already: nothing follows this line
            window, mode, key = self._prepare(req)
            cached = self.cache.get(key)
            if cached is not None:
                self.ledger.count("cacheHits")
                self._remember(req, cached)
                return done("cache", cached.items)
            if not req.invoked:
                reason = self._automatic_blocked()
                if reason:
                    return done(reason)
                delay = settings.debounce_ms / 1000
                if moved or self.type_through.looks_like_typo(req.uri, req.text, req.offset):
                    # Moving around rests briefly at many places; a slip off the suggestion
                    # is usually undone at once: both are worth a longer look first.
                    delay *= _SLOW_DEBOUNCE_FACTOR
                if glance:
                    delay = max(delay, _GLANCE_S)
                await ticket.debounce(delay)
                # A prefetch or a joined fetch may have landed meanwhile.
                if (answer := typed_through()) is not None:
                    return answer
            fetch = self._inflight.get(key)
            if fetch is None or fetch.task.done():
                fetch = self._start_fetch(req, window, mode, key)
            self.listener.status("busy", "requesting a completion", req.uri)
            try:
                result = await ticket.wait(fetch)
            except DeepSeekError as err:
                self._on_error(err)
                return done("error", error=err)
            pending = self._pending.get(req.uri)
            if result.items and (pending is None or pending.fetch is not fetch):
                # joined someone else's fetch: remember its answer here
                self._remember(req, result)
            self.listener.status("ready", "ready", req.uri)
            return done("backend" if result.items else "empty", result.items,
                        usage=result.usage, cost_usd=result.cost)
        except Superseded:
            return done("superseded")
        finally:
            ticket.close()

    def _maybe_prefetch(self, req: CompletionRequest, defer: bool) -> None:
        """On the last line of what type-through can serve, ask ahead for what follows it.

        The request is for the document as it will be once the rest of the line is typed and
        Enter pressed: the cursor at the start of the next line, where a model answers with
        whole lines (one request per two lines with a model that answers the rest of the line
        and the next). Its answer extends the suggestion being typed, so after Enter the next
        line is on screen at once instead of a debounce and a round trip later. One prefetch
        per extent of a suggestion; the usual pauses (budget, back-off) apply.

        The first keystroke that types a suggestion's last line asks (evidence that it is
        wanted), or the one that types it to its end. ``defer``: after this request's answer
        has gone out (the request is answered by type-through and does not wait).
        """
        rem = self.type_through.remainder(req.uri, req.text, req.offset)
        # The last line held: only blank lines (if any) follow it in the entry.
        if rem is None or rem.closed or rem.rest.partition("\n")[2].strip() \
                or (rem.serial, rem.held) in self._prefetched \
                or rem.serial in self._awaiting_lookahead:
            return
        if not defer and rem.rest.strip():
            return  # not a type-through answer, not at the end either: no evidence yet
        line_end = req.text.find("\n", req.offset)
        if req.text[req.offset:None if line_end < 0 else line_end].strip():
            return  # text after the cursor: the line does not end where the suggestion does
        if self._automatic_blocked() or not self._settings.enabled \
                or self._settings.manual_only:
            return
        self._prefetched[(rem.serial, rem.held)] = True
        newline = newline_in(req.text, req.offset)
        insert = rem.rest + newline
        ahead = CompletionRequest(
            req.uri, req.text[:req.offset] + insert + req.text[req.offset:],
            req.offset + len(insert), req.language_id, False, req.others)

        def start() -> None:
            window, mode, key = self._prepare(ahead)
            cached = self.cache.get(key)
            if cached is not None:
                self._extend(req.uri, rem, newline, cached)
                return
            # In the in-flight map, so that a request for that state joins this one.
            fetch = self._inflight.get(key)
            if fetch is None or fetch.task.done():
                fetch = self._shared_fetch(window, mode, key, invoked=False)
            fetch.waiters += 1  # wanted for itself: a joined request giving up must not cancel
            self._ahead[req.uri] = _Pending(Snapshot.of(ahead.text, ahead.offset), fetch,
                                            (rem.serial, rem.held))

            def landed(task: asyncio.Task[Fetched]) -> None:
                fetch.waiters -= 1
                if (result := _outcome(task)) is not None:
                    self._extend(req.uri, rem, newline, result)
                elif not task.cancelled():
                    log.info("prefetch failed: %s", task.exception())

            fetch.task.add_done_callback(landed)

        if defer:
            asyncio.get_running_loop().call_soon(start)
        else:
            start()

    def _remember(self, req: CompletionRequest, result: Fetched) -> None:
        """Remember an answer for type-through. A lookahead line still streaming is appended
        when it arrives; until then no prefetch is made for the entry (the lookahead is the
        line a prefetch would ask for)."""
        serial = self.type_through.remember(req.uri, req.text, req.offset, result.through,
                                            result.single)
        if serial is None:
            return
        held = len(result.through[0].text)
        if result.ends:
            self.type_through.extend(req.uri, Remainder(serial, "", held), "")
        later = result.later
        if later is None:
            return
        self._awaiting_lookahead.add(serial)

        def arrived(f: asyncio.Future[str | None]) -> None:
            self._awaiting_lookahead.discard(serial)
            if (more := _outcome(f)) is not None:  # "": nothing follows (closes the entry)
                self.type_through.extend(req.uri, Remainder(serial, "", held), more)

        later.add_done_callback(arrived)

    def _extend(self, uri: str, rem: Remainder, newline: str, result: Fetched) -> None:
        """Hold a prefetched answer behind the suggestion it continues (or, when there is
        none, remember that nothing follows)."""
        if not result.through:
            self.type_through.extend(uri, rem, "")
        elif result.through[0].replace == 0:
            more = newline + result.through[0].text
            if self.type_through.extend(uri, rem, more) and result.ends:
                self.type_through.extend(uri, Remainder(rem.serial, "", rem.held + len(more)),
                                         "")

    def _joinable(self, req: CompletionRequest) -> SharedFetch[Fetched] | None:
        """A fetch in flight for this document that ``req`` only typed on from: the latest
        request's, or a prefetch (whose state may be this very one)."""
        if not self.type_through.enabled:
            return None
        pending = self._pending.get(req.uri)
        if pending is not None and not pending.fetch.task.done() \
                and pending.state.typed(req.text, req.offset):
            return pending.fetch
        ahead = self._ahead.get(req.uri)
        if ahead is None or ahead.fetch.task.done():
            return None
        if ahead.state.typed(req.text, req.offset) is not None:
            return ahead.fetch
        # At the end of the suggestion it continues (Enter not pressed yet): it is what the
        # next state will need, and a request for this one would ask the same.
        rem = self.type_through.remainder(req.uri, req.text, req.offset)
        if rem is not None and (rem.serial, rem.held) == ahead.continues \
                and not rem.rest.strip():
            return ahead.fetch
        return None

    def _shared_fetch(self, window: FimWindow, mode: Mode, key: tuple[object, ...],
                      invoked: bool, early: bool = False) -> SharedFetch[Fetched]:
        fetch: SharedFetch[Fetched] = SharedFetch(
            lambda: self._fetch(window, mode, key, invoked, early))
        self._inflight[key] = fetch
        fetch.task.add_done_callback(lambda _t: self._forget(key, fetch))
        return fetch

    def _start_fetch(self, req: CompletionRequest, window: FimWindow, mode: Mode,
                     key: tuple[object, ...]) -> SharedFetch[Fetched]:
        fetch = self._shared_fetch(window, mode, key, req.invoked, early=not req.invoked)
        pending = _Pending(Snapshot.of(req.text, req.offset), fetch)
        self._pending[req.uri] = pending

        def landed(task: asyncio.Task[Fetched]) -> None:
            # Remembered here, not by the request: a superseded request's answer still serves
            # the type-through of the requests that came after it.
            result = _outcome(task)
            if result is not None and self._pending.get(req.uri) is pending and result.items:
                self._remember(req, result)

        fetch.task.add_done_callback(landed)
        return fetch

    def _forget(self, key: tuple[object, ...], fetch: SharedFetch[Fetched]) -> None:
        if self._inflight.get(key) is fetch:
            del self._inflight[key]

    def _prepare(self, req: CompletionRequest) -> tuple[FimWindow, Mode, tuple[object, ...]]:
        s = self._settings
        others: list[OpenDocument] = []
        if s.cross_file and s.cross_file_tokens:
            # Only the most relevant few are worth scanning: same language first, then the most
            # recently touched (200 open files must not slow every keystroke down).
            ranked = sorted((d for d in req.others if d.uri != req.uri),
                            key=lambda d: (d.language_id != req.language_id, -d.last_touched))
            others = [d for d in ranked[:_MAX_OTHERS]
                      if not is_excluded(d.uri, self._patterns) and "\x00" not in d.text]
        window = build_window(
            req.text, req.offset, uri=req.uri, language_id=req.language_id,
            prefix_tokens=s.prefix_tokens, suffix_tokens=s.suffix_tokens,
            others=others, cross_file_tokens=s.cross_file_tokens if s.cross_file else 0,
            sliding=s.sliding_window,
        )
        mode = choose_mode(window.prefix, window.suffix, s.multiline)  # type: ignore[arg-type]
        n = s.invoked_suggestions if req.invoked else 1
        key = (s.model, window.prompt, window.suffix, s.max_tokens, s.temperature, mode, n)
        return window, mode, key

    def _automatic_blocked(self) -> str | None:
        """Why an automatic request must not be sent now (None when it may)."""
        if self._blocked is not None:
            return "error"
        if self._backoff.active:
            return "backoff"
        reason = self.ledger.over_budget(self._settings)
        if reason:
            if not self._budget_told:
                self._budget_told = True
                self.listener.info("DeepSeek FIM: " + reason)
            self.listener.status("inactive", "daily budget used up", None)
            return "paused"
        self._budget_told = False
        return None

    def _on_error(self, err: DeepSeekError) -> None:
        log.info("completion failed: %s", err.user_message)
        self._problems.report(err, self.listener)
        if err.retryable:
            self._backoff.hit()
        elif err.needs_user:
            self._blocked = err
        self.listener.status("error", err.user_message, None)

    async def _fetch(self, window: FimWindow, mode: Mode, key: tuple[object, ...],
                     invoked: bool, early: bool = False) -> Fetched:
        s = self._settings
        n = s.invoked_suggestions if invoked else 1
        temps = [s.temperature] + [max(s.temperature, 0.4 + 0.4 * i) for i in range(1, n)]
        results = await asyncio.gather(*(self._one(window, mode, t, early and n == 1)
                                         for t in temps), return_exceptions=True)
        items: list[Suggestion] = []
        through: list[Suggestion] = []
        later: asyncio.Future[str | None] | None = None
        usage = Usage()
        cost = 0.0
        first_error: DeepSeekError | None = None
        ends = False
        final = True  # every call answered in full (no timeout, no error)
        for r in results:
            if isinstance(r, DeepSeekError):
                first_error = first_error or r
                final = False
                continue
            if isinstance(r, BaseException):
                raise r
            suggestion, full, u, c, more = r.suggestion, r.full, r.usage, r.cost, r.later
            final = final and not r.timed_out
            if u:
                usage = Usage(usage.cache_hit_tokens + u.cache_hit_tokens,
                              usage.cache_miss_tokens + u.cache_miss_tokens,
                              usage.completion_tokens + u.completion_tokens,
                              usage.estimated or u.estimated)
            cost += c
            if suggestion and all(x.text != suggestion.text for x in items):
                if not items:
                    ends = r.ends
                items.append(suggestion)
                through.append(full or suggestion)
                later = later or more
        if first_error is not None and len(items) == 0 and all(
            isinstance(r, DeepSeekError) for r in results
        ):
            raise first_error
        # A success clears earlier problems: the user will hear again if they come back.
        self._problems.clear()
        self._blocked = None
        self._backoff.clear()
        out = Fetched(tuple(items), tuple(through), mode == "single", usage, cost, later, ends)
        # A model asked the same gets the same answer, an empty one too; what a timeout cut
        # short is worth asking again.
        if items or final:
            self.cache.put(key, out)
            if later is not None:
                def arrived(f: asyncio.Future[str | None]) -> None:
                    if more := _outcome(f):
                        first = Suggestion(through[0].text + more, through[0].replace)
                        self.cache.put(key, dataclasses.replace(
                            out, through=(first,) + out.through[1:], later=None))
                    elif more == "":
                        self.cache.put(key, dataclasses.replace(out, later=None, ends=True))
                later.add_done_callback(arrived)
        return out

    async def _one(self, window: FimWindow, mode: Mode, temperature: float, early: bool
                   ) -> CallResult:
        self.backend_requests += 1
        return await fim_call(self._backend, self._settings, self.ledger, window, mode,
                              temperature, lookahead=self.type_through.enabled, early=early,
                              track=self._track)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._task_done)


#: A keystroke that leaves the suggestion by its last character is usually a typo fixed a
#: moment later (then type-through answers again), and a cursor moved without typing is
#: usually passing through: wait this many debounces before asking.
_SLOW_DEBOUNCE_FACTOR = 3
#: A cursor moved away from a suggestion being typed is a glance at other code, usually
#: followed by a move back: ask there only once the cursor has rested this long.
_GLANCE_S = 1.0
#: How many other open documents are considered for cross-file snippets.
_MAX_OTHERS = 12
