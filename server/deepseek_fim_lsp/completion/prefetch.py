"""Lines asked ahead: the prefetch of the next line's start and the lookahead that streams on.

While the user types the last line a type-through entry holds, a *prefetch* asks for the state
"that line typed out and Enter pressed" (cursor at the start of the next line, where a model
answers whole lines); its answer is appended to the entry behind a line break, or, if empty,
closes the entry. An answer's *lookahead* line that is still streaming when the line itself was
answered is appended when it arrives; until then no prefetch is made for the entry (the
lookahead is the line a prefetch would ask for). An answer whose model went on with the code
below it (:attr:`Fetched.ends`) closes its entry at once: asking what follows would only get
that code again. Blank lines an answer ends with are held, and the prefetch asks past them.

The engine hands in what a prefetch needs of it (:class:`FetchSource`), so this module knows
nothing of the pipeline's order of checks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from cachetools import LRUCache

from ..context.window import FimWindow
from ..postprocess import Mode
from .cache import Remainder, Snapshot, TypeThrough
from .fim_call import newline_in
from .scheduler import SharedFetch
from .types import CompletionRequest, Fetched

log = logging.getLogger(__name__)
T = TypeVar("T")

CacheKey = tuple[object, ...]


@dataclass(frozen=True)
class Pending:
    """A fetch in flight and the document state it is for."""

    state: Snapshot
    fetch: SharedFetch[Fetched]
    #: For a prefetch: the suggestion it continues (serial, length held when it was asked).
    continues: tuple[int, int] = (0, 0)
    #: Applies the finished fetch's answer (once; see :meth:`Prefetcher.settle`).
    land: Callable[[], None] = lambda: None


def outcome(future: asyncio.Future[T]) -> T | None:
    """The result of a finished future, or None if it was cancelled or failed (whoever awaited
    it deals with the failure)."""
    if future.cancelled() or future.exception() is not None:
        return None
    return future.result()


def once(apply: Callable[[], None]) -> Callable[..., None]:
    """``apply`` made safe to call twice: as a done-callback and from :meth:`Prefetcher.settle`
    (whichever comes first applies)."""
    done = False

    def run(*_: object) -> None:
        nonlocal done
        if not done:
            done = True
            apply()

    return run


class FetchSource(Protocol):
    """What the engine lends a prefetch: the request's key, the cache, fetches in flight."""

    def prepare_key(self, req: CompletionRequest) -> tuple[FimWindow, Mode, CacheKey]: ...

    def cached(self, key: CacheKey) -> Fetched | None: ...

    def fetch_for(self, window: FimWindow, mode: Mode, key: CacheKey) -> SharedFetch[Fetched]: ...

    def may_ask_ahead(self) -> bool: ...


class Prefetcher:
    def __init__(self, type_through: TypeThrough, source: FetchSource) -> None:
        self._through = type_through
        self._source = source
        self._ahead: LRUCache[str, Pending] = LRUCache(maxsize=64)  # prefetches in flight
        self._asked: LRUCache[tuple[int, int], bool] = LRUCache(maxsize=256)
        #: Type-through entries whose lookahead line is still streaming (by serial): the line's
        #: future and what appends it.
        self._awaiting_lookahead: dict[int, tuple[asyncio.Future[str | None],
                                                  Callable[[], None]]] = {}

    def maybe_prefetch(self, req: CompletionRequest, defer: bool) -> None:
        """On the last line of what type-through can serve, ask ahead for what follows it.

        One prefetch per extent of a suggestion; the usual pauses (budget, back-off) apply. The
        first keystroke that types a suggestion's last line asks (evidence that it is wanted),
        or the one that types it to its end. ``defer``: after this request's answer has gone
        out (the request is answered by type-through and does not wait).
        """
        rem = self._through.remainder(req.uri, req.text, req.offset)
        # The last line held: only blank lines (if any) follow it in the entry.
        if rem is None or rem.closed or rem.rest.partition("\n")[2].strip() \
                or (rem.serial, rem.held) in self._asked \
                or rem.serial in self._awaiting_lookahead:
            return
        if not defer and rem.rest.strip():
            return  # not a type-through answer, not at the end either: no evidence yet
        line_end = req.text.find("\n", req.offset)
        if req.text[req.offset:None if line_end < 0 else line_end].strip():
            return  # text after the cursor: the line does not end where the suggestion does
        if not self._source.may_ask_ahead():
            return
        self._asked[(rem.serial, rem.held)] = True
        newline = newline_in(req.text, req.offset)
        insert = rem.rest + newline
        ahead = CompletionRequest(
            req.uri, req.text[:req.offset] + insert + req.text[req.offset:],
            req.offset + len(insert), req.language_id, False, req.others)

        def start() -> None:
            window, mode, key = self._source.prepare_key(ahead)
            cached = self._source.cached(key)
            if cached is not None:
                self._extend(req.uri, rem, newline, cached)
                return
            # In the in-flight map, so that a request for that state joins this one.
            fetch = self._source.fetch_for(window, mode, key)
            fetch.waiters += 1  # wanted for itself: a joined request giving up must not cancel

            def landed() -> None:
                fetch.waiters -= 1
                if (result := outcome(fetch.task)) is not None:
                    self._extend(req.uri, rem, newline, result)
                elif not fetch.task.cancelled():
                    log.info("prefetch failed: %s", fetch.task.exception())

            land = once(landed)
            self._ahead[req.uri] = Pending(Snapshot.of(ahead.text, ahead.offset), fetch,
                                           (rem.serial, rem.held), land)
            fetch.task.add_done_callback(land)

        if defer:
            asyncio.get_running_loop().call_soon(start)
        else:
            start()

    def remember(self, req: CompletionRequest, result: Fetched) -> None:
        """Remember an answer for type-through; its lookahead line, if still streaming, is
        appended when it arrives."""
        serial = self._through.remember(req.uri, req.text, req.offset, result.through,
                                        result.single)
        if serial is None:
            return
        held = len(result.through[0].text)
        if result.ends:
            self._through.extend(req.uri, Remainder(serial, "", held), "")
        later = result.later
        if later is None:
            return

        def arrived() -> None:
            self._awaiting_lookahead.pop(serial, None)
            if (more := outcome(later)) is not None:  # "": nothing follows (closes the entry)
                self._through.extend(req.uri, Remainder(serial, "", held), more)

        land = once(arrived)
        self._awaiting_lookahead[serial] = (later, land)
        later.add_done_callback(land)

    def _extend(self, uri: str, rem: Remainder, newline: str, result: Fetched) -> None:
        """Hold a prefetched answer behind the suggestion it continues (or, when there is
        none, remember that nothing follows)."""
        if not result.through:
            self._through.extend(uri, rem, "")
        elif result.through[0].replace == 0:
            more = newline + result.through[0].text
            if self._through.extend(uri, rem, more) and result.ends:
                self._through.extend(uri, Remainder(rem.serial, "", rem.held + len(more)), "")

    def settle(self, uri: str) -> None:
        """Apply the answers of a prefetch and of lookahead lines that have finished but whose
        done-callbacks have not run yet (they run an iteration of the event loop later): a
        request handled in between must see them, not ask the model for the line again."""
        ahead = self._ahead.get(uri)
        if ahead is not None and ahead.fetch.task.done():
            ahead.land()
        for later, land in list(self._awaiting_lookahead.values()):
            if later.done():
                land()

    def joinable(self, req: CompletionRequest) -> SharedFetch[Fetched] | None:
        """A prefetch in flight that ``req`` can wait for: its state is this one or typed on
        from it, or ``req`` stands at the end of the suggestion it continues (Enter not pressed
        yet: it is what the next state will need, and a request for this one would ask the
        same)."""
        ahead = self._ahead.get(req.uri)
        if ahead is None or ahead.fetch.task.done():
            return None
        if ahead.state.typed(req.text, req.offset) is not None:
            return ahead.fetch
        rem = self._through.remainder(req.uri, req.text, req.offset)
        if rem is not None and (rem.serial, rem.held) == ahead.continues \
                and not rem.rest.strip():
            return ahead.fetch
        return None
