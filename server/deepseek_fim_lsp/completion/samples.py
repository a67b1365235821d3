"""Several samples for one state: their temperatures, and one answer made of them.

An explicit request asks ``invokedSuggestions`` samples — the first at the configured
temperature, the others warmer — and shows the distinct ones; usage and cost add up. Samples
already received for the state count: an explicit request after an automatic one asks only the
missing ones (:func:`merge` with ``base``). The answer fails only when every sample failed.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DeepSeekError
from ..postprocess import Mode, Suggestion
from ..usage import Usage
from .fim_call import CallResult
from .types import Fetched

#: The alternatives' temperatures, as they go out (never below the configured one).
ALTERNATIVE_TEMPERATURES = (0.8, 1.2)


def temperatures(base: float, n: int) -> list[float]:
    """Sample ``i``'s temperature for ``n`` samples: the configured one first, then 0.8, 1.2."""
    return [base] + [max(base, t) for t in ALTERNATIVE_TEMPERATURES[:max(0, n - 1)]]


def merge(results: Sequence[CallResult | BaseException], mode: Mode, samples: int,
          base: Fetched | None = None) -> Fetched:
    """One answer from the samples' results (distinct suggestions in order, ``base``'s first);
    raises the first error when no sample succeeded and there is no ``base``. ``samples``:
    how many the answer now stands for."""
    items: list[Suggestion] = list(base.items) if base else []
    through: list[Suggestion] = list(base.through) if base else []
    later = base.later if base else None
    ends = base.ends if base else False
    answered = base.answered if base else True
    usage = Usage()
    cost = 0.0
    first_error: DeepSeekError | None = None
    for r in results:
        if isinstance(r, DeepSeekError):
            first_error = first_error or r
            answered = False
            continue
        if isinstance(r, BaseException):
            raise r
        answered = answered and not r.timed_out
        if u := r.usage:
            usage = Usage(usage.cache_hit_tokens + u.cache_hit_tokens,
                          usage.cache_miss_tokens + u.cache_miss_tokens,
                          usage.completion_tokens + u.completion_tokens,
                          usage.estimated or u.estimated)
        cost += r.cost
        suggestion = r.suggestion
        if suggestion and all(x.text != suggestion.text for x in items):
            if not items:
                ends, later = r.ends, r.later
            items.append(suggestion)
            through.append(r.full or suggestion)
    if first_error is not None and not items and base is None and all(
        isinstance(r, DeepSeekError) for r in results
    ):
        raise first_error
    return Fetched(tuple(items), tuple(through), mode == "single", usage, cost, later, ends,
                   samples, answered)
