"""Asking the backend for a document state: one shared fetch per state, samples merged, answers
cached.

Requests for the same state (same cache key) share the fetch in flight; an explicit request
that joins a fetch with fewer samples, or finds fewer in the cache, asks only the missing ones.
Answers are cached — an empty one too, when every sample was answered in full — and a
lookahead line that arrives later completes the cached answer. :class:`Fetching` is the part of
the :class:`~.engine.Engine` that does this (a mixin: it uses the engine's state).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from cachetools import LRUCache

from ..backends.base import Backend
from ..config import Settings
from ..context.window import FimWindow
from ..errors import DeepSeekError
from ..postprocess import Mode, Suggestion
from ..usage import UsageLedger
from .cache import CompletionCache, Snapshot, TypeThrough
from .fim_call import CallResult, fim_call
from .prefetch import CacheKey, Pending, Prefetcher, once, outcome
from .problems import Backoff, Problems
from .samples import merge, temperatures
from .scheduler import SharedFetch, Ticket
from .types import CompletionRequest, Fetched


class Fetching:
    """Fetches in flight, by cache key; the engine's state they use is declared here."""

    _settings: Settings
    _backend: Backend
    cache: CompletionCache[Fetched]
    type_through: TypeThrough
    prefetch: Prefetcher
    ledger: UsageLedger
    _inflight: dict[tuple[object, ...], SharedFetch[Fetched]]
    _pending: LRUCache[str, Pending]
    _problems: Problems
    _backoff: Backoff
    _blocked: DeepSeekError | None
    _tasks: set[asyncio.Task[object]]
    backend_requests: int

    def _task_done(self, task: asyncio.Task[object]) -> None:
        raise NotImplementedError

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

    def fetch_for(self, window: FimWindow, mode: Mode, key: CacheKey) -> SharedFetch[Fetched]:
        """The fetch in flight for ``key``, or a new one (automatic: one sample)."""
        fetch = self._inflight.get(key)
        if fetch is None or fetch.task.done():
            fetch = self._shared_fetch(window, mode, key, 1)
        return fetch

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

        def landed() -> None:
            # Remembered here, not by the request: a superseded request's answer still serves
            # the type-through of the requests that came after it.
            result = outcome(fetch.task)
            if result is not None and self._pending.get(req.uri) is pending and result.items:
                self.prefetch.remember(req, result)

        land = once(landed)
        pending = Pending(Snapshot.of(req.text, req.offset), fetch, land=land)
        self._pending[req.uri] = pending
        fetch.task.add_done_callback(land)
        return fetch

    def _settle(self, uri: str) -> None:
        """Count the fetches for ``uri`` that have finished as landed, whether or not their
        done-callbacks have run yet (see :meth:`Prefetcher.settle`)."""
        pending = self._pending.get(uri)
        if pending is not None and pending.fetch.task.done():
            pending.land()
        self.prefetch.settle(uri)

    def _forget(self, key: CacheKey, fetch: SharedFetch[Fetched]) -> None:
        if self._inflight.get(key) is fetch:
            del self._inflight[key]

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
