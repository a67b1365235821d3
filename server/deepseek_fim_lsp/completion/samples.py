"""Several samples for one state: their temperatures, and one answer made of them.

An invoked request asks ``invokedSuggestions`` samples at once — the first at the configured
temperature, the others warmer — and shows the distinct ones; usage and cost add up. The answer
fails only when every sample failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..errors import DeepSeekError
from ..postprocess import Mode, Suggestion
from ..usage import Usage
from .fim_call import CallResult
from .types import Fetched


def temperatures(base: float, n: int) -> list[float]:
    """The configured temperature first, then rising ones (0.8, 1.2) for alternatives."""
    return [base] + [max(base, 0.4 + 0.4 * i) for i in range(1, n)]


def merge(results: Sequence[CallResult | BaseException], mode: Mode) -> Fetched:
    """One answer from the samples' results (distinct suggestions in order); raises the first
    error when no sample succeeded."""
    items: list[Suggestion] = []
    through: list[Suggestion] = []
    later: asyncio.Future[str | None] | None = None
    usage = Usage()
    cost = 0.0
    first_error: DeepSeekError | None = None
    for r in results:
        if isinstance(r, DeepSeekError):
            first_error = first_error or r
            continue
        if isinstance(r, BaseException):
            raise r
        suggestion, full, u, c, more = r
        if u:
            usage = Usage(usage.cache_hit_tokens + u.cache_hit_tokens,
                          usage.cache_miss_tokens + u.cache_miss_tokens,
                          usage.completion_tokens + u.completion_tokens,
                          usage.estimated or u.estimated)
        cost += c
        if suggestion and all(x.text != suggestion.text for x in items):
            items.append(suggestion)
            through.append(full or suggestion)
            later = later or more
    if first_error is not None and not items and all(
        isinstance(r, DeepSeekError) for r in results
    ):
        raise first_error
    return Fetched(tuple(items), tuple(through), mode == "single", usage, cost, later)
