"""Debounce and supersession: per document, only the newest request is worth an HTTP call.

Every completion request takes a :class:`Ticket` for its document. Taking a new ticket supersedes
the previous one: its debounce wait ends at once, and the fetch it was waiting for is cancelled
(closing the HTTP connection, which stops the spend) unless another request still waits for the
same fetch. A superseded request ends with :class:`Superseded`, which the engine turns into an
empty answer. Cancellation from the caller (``$/cancelRequest``) propagates as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Superseded(Exception):
    """A newer request for the same document took over."""


class SharedFetch(Generic[T]):
    """A task several requests may wait on; cancelled when the last waiter gives up."""

    def __init__(self, factory: Callable[[], Awaitable[T]]) -> None:
        async def run() -> T:
            return await factory()

        self.task: asyncio.Task[T] = asyncio.ensure_future(run())
        self.waiters = 0

    def release(self) -> None:
        self.waiters -= 1
        if self.waiters <= 0 and not self.task.done():
            self.task.cancel()


class Ticket:
    def __init__(self, scheduler: Scheduler, uri: str) -> None:
        self._scheduler = scheduler
        self.uri = uri
        self.superseded = asyncio.Event()

    async def debounce(self, delay_s: float) -> None:
        """Sleep ``delay_s`` unless superseded first (then raise :class:`Superseded`)."""
        if self.superseded.is_set():
            raise Superseded()
        if delay_s <= 0:
            return
        try:
            await asyncio.wait_for(self.superseded.wait(), timeout=delay_s)
        except TimeoutError:
            return
        raise Superseded()

    async def wait(self, fetch: SharedFetch[T]) -> T:
        """Wait for ``fetch``; if superseded first, let go of it (cancelling it if unshared)."""
        if self.superseded.is_set():
            raise Superseded()
        fetch.waiters += 1
        stop = asyncio.ensure_future(self.superseded.wait())
        try:
            done, _ = await asyncio.wait({fetch.task, stop}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            fetch.release()
            raise
        finally:
            stop.cancel()
        if fetch.task in done:
            fetch.waiters -= 1
            if fetch.task.cancelled():  # another waiter's supersession cancelled it
                raise Superseded()
            return fetch.task.result()
        fetch.release()
        raise Superseded()

    def close(self) -> None:
        self._scheduler._release(self)


class Scheduler:
    def __init__(self) -> None:
        self._current: dict[str, Ticket] = {}
        self.superseded_count = 0

    def take(self, uri: str) -> Ticket:
        previous = self._current.get(uri)
        if previous is not None and not previous.superseded.is_set():
            previous.superseded.set()
            self.superseded_count += 1
        ticket = Ticket(self, uri)
        self._current[uri] = ticket
        return ticket

    def _release(self, ticket: Ticket) -> None:
        if self._current.get(ticket.uri) is ticket:
            del self._current[ticket.uri]

    def cancel_all(self) -> None:
        for ticket in list(self._current.values()):
            ticket.superseded.set()
        self._current.clear()
