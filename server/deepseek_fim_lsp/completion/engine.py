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
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from cachetools import LRUCache

from ..backends.base import Backend
from ..backends.deepseek import DeepSeekBackend
from ..config import Settings
from ..context.privacy import effective_patterns, is_excluded
from ..context.prompt import prompt_window
from ..context.repo import RepoContext
from ..context.window import FimWindow
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
from .cache import CompletionCache, TypeThrough
from .fetches import Fetching
from .prefetch import CacheKey, Pending, Prefetcher
from .problems import Backoff, Problems
from .scheduler import Scheduler, SharedFetch, Superseded
from .trace import Trace
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


class Engine(Fetching):
    def __init__(self, settings: Settings, *, listener: EngineListener | None = None,
                 backend_factory: BackendFactory = default_backend,
                 ledger: UsageLedger | None = None) -> None:
        self.listener: EngineListener = listener or NullListener()
        self._factory = backend_factory
        self._settings = settings
        self._backend: Backend = backend_factory(settings)
        self._patterns = effective_patterns(settings.exclude)
        #: Repository context: workspace roots, file index, recent edits, open-document chunks.
        #: The LSP layer feeds it workspace folders and document events.
        self.repo = RepoContext(self._patterns)
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
        #: Listed or answered: True; the API said it does not exist: False; else None.
        self.model_available: bool | None = None
        self._trace = Trace()
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
        self.repo.set_exclude(self._patterns)
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
        """``GET /models`` once, as advice: DeepSeek serves ids it does not list, so "not listed"
        is only logged (so is a 404: a proxy may serve FIM without the list). A key or balance
        problem found on the way is told at once."""
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
        listed = settings.model in offered
        self.model_available = True if listed else self.model_available
        log.info("model %s is %s by %s/models (listed: %s)", settings.model, "listed" if listed
                 else "not listed", settings.base_url, ", ".join(offered) or "none")
        return listed

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
            result = CompletionResult(out, source, latency_ms=(time.perf_counter() - started)
                                      * 1e3, model=settings.model, **kw)  # type: ignore[arg-type]
            if source == "backend" or isinstance(result.error, UnknownModelError):
                self.model_available = result.error is None  # the API answered for the model
            self._trace.answered(req, result)  # the debug line
            return result

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

        self._settle(req.uri)

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
                self._settle(req.uri)
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

    def may_ask_ahead(self) -> bool:
        s = self._settings
        return not self._automatic_blocked() and s.enabled and not s.manual_only

    def _prepare(self, req: CompletionRequest) -> tuple[FimWindow, Mode, CacheKey]:
        s = self._settings
        window = prompt_window(self.repo, s, req.uri, req.text, req.offset, req.language_id,
                               req.others, self._patterns)
        self._trace.built(req, window)
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
