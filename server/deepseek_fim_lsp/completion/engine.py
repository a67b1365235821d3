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
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from cachetools import LRUCache

from ..backends.base import Backend
from ..backends.deepseek import DeepSeekBackend
from ..config import Settings
from ..context.crossfile import OpenDocument
from ..context.privacy import effective_patterns, is_excluded
from ..context.window import FimWindow, build_window
from ..errors import (
    AuthError,
    BalanceError,
    DeepSeekError,
    MissingKeyError,
    UnknownModelError,
)
from ..postprocess import Mode, Suggestion, choose_mode
from ..usage import UsageLedger
from . import policy
from .cache import CompletionCache, Snapshot, TypeThrough
from .fim_call import CallResult, fim_call
from .prefetch import CacheKey, Pending, Prefetcher, outcome
from .problems import Backoff, Problems
from .samples import merge, temperatures
from .scheduler import Scheduler, SharedFetch, Superseded, Ticket
from .types import (
    CompletionItem,
    CompletionRequest,
    CompletionResult,
    EngineListener,
    Fetched,
    NullListener,
)

log = logging.getLogger(__name__)

BackendFactory = Callable[[Settings], Backend]
T = TypeVar("T")


def default_backend(settings: Settings) -> Backend:
    return DeepSeekBackend(settings.base_url, settings.api_key,
                           timeout_s=settings.request_timeout_ms / 1000)


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
        self._pending: LRUCache[str, Pending] = LRUCache(maxsize=64)
        self.prefetch = Prefetcher(self.type_through, self)
        #: The state of the last request per document, to tell a cursor move from an edit.
        self._last_state: LRUCache[str, tuple[str, int]] = LRUCache(maxsize=64)
        self.scheduler = Scheduler()
        self.ledger = ledger or UsageLedger()
        self._inflight: dict[tuple[object, ...], SharedFetch[Fetched]] = {}
        self._ids = itertools.count(1)
        self._shown_ids: LRUCache[str, bool] = LRUCache(maxsize=1024)
        self._backoff = Backoff()
        self._problems = Problems()
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
        """Answer one request; with a selected menu entry, for the document with the entry
        applied, in items that extend it (see policy.py)."""
        if req.selected is None:
            return await self._complete(req)
        applied = policy.apply_selection(req)
        if applied is None:
            return CompletionResult((), "empty", model=self._settings.model)
        return policy.over_selection(req, await self._complete(applied))

    async def _complete(self, req: CompletionRequest) -> CompletionResult:
        started = time.perf_counter()
        settings = self._settings
        door = policy.door_of(req)
        want = policy.cost(door, settings)

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
        # ... away from a suggestion being typed: a glance at other code, usually.
        glance = moved and last is not None and last[1] != req.offset \
            and self.type_through.remainder(req.uri, req.text, last[1]) is not None
        if door != "known":  # the menu's request says nothing of where the user is typing
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

        if door == "known":  # what is known, no request, no supersession, no prefetch
            if (answer := typed_through()) is not None:
                return answer
            known = self.cache.get(self._prepare(req)[2])
            if known is None or not known.items:
                return done("empty")
            self.ledger.count("cacheHits")
            return done("cache", known.items)
        # Type-through: the user is typing what we suggested. No wait, no request; requests
        # for older states of the document are superseded (their answer is no longer wanted).
        if (answer := typed_through()) is not None:
            self.scheduler.take(req.uri).close()
            self.prefetch.maybe_prefetch(req, defer=True)
            return answer

        if want.debounce:
            # At the very end of a suggestion (``}`` typed): ask for the next line's start now,
            # rather than for this state after a debounce; this request waits for it below.
            self.prefetch.maybe_prefetch(req, defer=False)
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
            if want.debounce and self.type_through.ends_here(req.uri, req.text, req.offset):
                return done("empty")  # asked ahead already: nothing follows this line
            window, mode, key = self._prepare(req)
            cached = self.cache.get(key)
            if cached is not None and cached.samples >= want.samples:
                self.ledger.count("cacheHits")
                self.prefetch.remember(req, cached)
                return done("cache", cached.items)
            if want.debounce:
                reason = self._automatic_blocked()
                if reason:
                    return done(reason)
                await ticket.debounce(policy.debounce_s(
                    settings, moved=moved, glance=glance,
                    typo=self.type_through.looks_like_typo(req.uri, req.text, req.offset)))
                # A prefetch or a joined fetch may have landed meanwhile.
                if (answer := typed_through()) is not None:
                    return answer
            self.listener.status("busy", "requesting a completion", req.uri)
            try:
                result, fetch = await self._fetched(req, ticket, (window, mode, key),
                                                    want.samples, cached, early=want.debounce)
            except DeepSeekError as err:
                self._on_error(err)
                return done("error", error=err)
            pending = self._pending.get(req.uri)
            if result.items and (pending is None or pending.fetch is not fetch):
                # joined someone else's fetch: remember its answer here
                self.prefetch.remember(req, result)
            self.listener.status("ready", "ready", req.uri)
            return done("backend" if result.items else "empty", result.items,
                        usage=result.usage, cost_usd=result.cost)
        except Superseded:
            return done("superseded")
        finally:
            ticket.close()

    async def _fetched(self, req: CompletionRequest, ticket: Ticket,
                       prepared: tuple[FimWindow, Mode, CacheKey], samples: int,
                       base: Fetched | None, early: bool
                       ) -> tuple[Fetched, SharedFetch[Fetched]]:
        """The answer for the state with ``samples`` samples: joins a fetch in flight for it,
        and asks only the samples missing from those received (``base``, or the answer of a
        fetch with fewer samples that it joined)."""
        window, mode, key = prepared
        while True:
            fetch = self._inflight.get(key)
            if fetch is None or fetch.task.done():
                fetch = self._start_fetch(req, window, mode, key, samples, base, early)
            result = await ticket.wait(fetch)
            if result.samples >= samples:
                return result, fetch
            base = result

    def _joinable(self, req: CompletionRequest) -> SharedFetch[Fetched] | None:
        """A fetch in flight for this document that ``req`` only typed on from: the latest
        request's, or a prefetch (whose state may be this very one)."""
        if not self.type_through.enabled:
            return None
        pending = self._pending.get(req.uri)
        if pending is not None and not pending.fetch.task.done() \
                and pending.state.typed(req.text, req.offset):
            return pending.fetch
        return self.prefetch.joinable(req)

    # --- what a prefetch borrows (prefetch.FetchSource) --------------------------------------

    def prepare_key(self, req: CompletionRequest) -> tuple[FimWindow, Mode, CacheKey]:
        return self._prepare(req)

    def cached(self, key: CacheKey) -> Fetched | None:
        return self.cache.get(key)

    def fetch_for(self, window: FimWindow, mode: Mode, key: CacheKey) -> SharedFetch[Fetched]:
        """The fetch in flight for ``key``, or a new one (automatic: one sample)."""
        fetch = self._inflight.get(key)
        if fetch is None or fetch.task.done():
            fetch = self._shared_fetch(window, mode, key, 1)
        return fetch

    def may_ask_ahead(self) -> bool:
        s = self._settings
        return not self._automatic_blocked() and s.enabled and not s.manual_only

    def _shared_fetch(self, window: FimWindow, mode: Mode, key: CacheKey, samples: int,
                      base: Fetched | None = None, early: bool = False) -> SharedFetch[Fetched]:
        fetch: SharedFetch[Fetched] = SharedFetch(
            lambda: self._fetch(window, mode, key, samples, base, early))
        self._inflight[key] = fetch
        fetch.task.add_done_callback(lambda _t: self._forget(key, fetch))
        return fetch

    def _start_fetch(self, req: CompletionRequest, window: FimWindow, mode: Mode,
                     key: CacheKey, samples: int, base: Fetched | None, early: bool
                     ) -> SharedFetch[Fetched]:
        fetch = self._shared_fetch(window, mode, key, samples, base, early)
        pending = Pending(Snapshot.of(req.text, req.offset), fetch)
        self._pending[req.uri] = pending

        def landed(task: asyncio.Task[Fetched]) -> None:
            # Remembered here, not by the request: a superseded request's answer still serves
            # the type-through of the requests that came after it.
            result = outcome(task)
            if result is not None and self._pending.get(req.uri) is pending and result.items:
                self.prefetch.remember(req, result)

        fetch.task.add_done_callback(landed)
        return fetch

    def _forget(self, key: CacheKey, fetch: SharedFetch[Fetched]) -> None:
        if self._inflight.get(key) is fetch:
            del self._inflight[key]

    def _prepare(self, req: CompletionRequest) -> tuple[FimWindow, Mode, CacheKey]:
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
        # Not the sample count: every sample received for the state serves every request.
        key = (s.model, window.prompt, window.suffix, s.max_tokens, s.temperature, mode)
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

    async def _fetch(self, window: FimWindow, mode: Mode, key: CacheKey, samples: int,
                     base: Fetched | None = None, early: bool = False) -> Fetched:
        """Ask the samples ``base`` lacks (all, without one) and merge them into it."""
        s = self._settings
        asked = temperatures(s.temperature, samples)[base.samples if base else 0:]
        results = await asyncio.gather(*(self._one(window, mode, t, early and samples == 1)
                                         for t in asked), return_exceptions=True)
        out = merge(results, mode, samples, base)
        if not all(isinstance(r, BaseException) for r in results):
            # A success clears earlier problems: the user will hear again if they come back.
            self._problems.clear()
            self._blocked = None
            self._backoff.clear()
        # The same state asked again gets the same answer, an empty one too; what a timeout
        # cut short is worth asking again.
        if out.items or out.answered:
            self.cache.put(key, out)
            if (later := out.later) is not None:
                later.add_done_callback(lambda f: self._lookahead_arrived(key, later, f))
        return out

    def _lookahead_arrived(self, key: CacheKey, later: asyncio.Future[str | None],
                           f: asyncio.Future[str | None]) -> None:
        """Complete the cached answer with its first suggestion's lookahead line."""
        more, cached = outcome(f), self.cache.peek(key)
        if more is None or cached is None or cached.later is not later:
            return
        first = Suggestion(cached.through[0].text + more, cached.through[0].replace)
        self.cache.put(key, dataclasses.replace(cached, through=(first,) + cached.through[1:],
                                                later=None, ends=cached.ends or not more))

    async def _one(self, window: FimWindow, mode: Mode, temperature: float, early: bool
                   ) -> CallResult:
        self.backend_requests += 1
        return await fim_call(self._backend, self._settings, self.ledger, window, mode,
                              temperature, lookahead=self.type_through.enabled, early=early,
                              track=self._track)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._task_done)


#: How many other open documents are considered for cross-file snippets.
_MAX_OTHERS = 12
