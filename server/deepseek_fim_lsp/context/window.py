"""Text + cursor offset → the FIM prompt/suffix pair, under token budgets. Pure, no I/O.

Why the layout matters: DeepSeek bills input tokens that hit its prefix cache at ~2% of a miss,
and a hit needs a byte-identical *start* of the prompt. So the prefix window starts at the file
start while it fits, and otherwise at a line that is a multiple of ``chunk_lines`` — it moves
forward in large steps, not on every keystroke, and consecutive requests share their start.
Cross-file snippets (:mod:`.crossfile`) go in front of the prefix in a stable order for the same
reason.

All offsets are Python string indices (code points); token counts are :mod:`.tokens`' estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .crossfile import OpenDocument, cross_file_header
from .tokens import ASCII_COST, cost10

CHAR_ALIGN = 256


@dataclass(frozen=True)
class FimWindow:
    """What to send: ``prompt``/``suffix`` for the API, plus where they came from."""

    prompt: str  # cross-file header (if any) + prefix window
    suffix: str  # text[offset:suffix_end]
    prefix: str  # text[prefix_start:offset]
    prefix_start: int
    suffix_end: int
    context_uris: tuple[str, ...]  # documents whose snippets are in the header, in order


# --- cutting -----------------------------------------------------------------------------------


def _fits(text: str, a: int, b: int, limit: int) -> int | None:
    """Cost of text[a:b] if it is at most ``limit`` tenths, else None (cheap reject first)."""
    if ASCII_COST * (b - a) > limit:
        return None
    c = cost10(text[a:b])
    return c if c <= limit else None


def _splits_pair(text: str, i: int) -> bool:
    """True if a cut at ``i`` would separate "\\r\\n" or a (stray) surrogate pair."""
    if i <= 0 or i >= len(text):
        return False
    before, after = text[i - 1], text[i]
    if before == "\r" and after == "\n":
        return True
    return "\ud800" <= before <= "\udbff" and "\udc00" <= after <= "\udfff"


def _cut_tail(text: str, a: int, b: int, limit: int, align: bool) -> int:
    """Smallest ``p`` in [a, b] with cost(text[p:b]) <= limit; aligned to steps from ``a``."""
    m_hi = min(b - a, max(limit, 0) // ASCII_COST)  # more chars than this can never fit
    if cost10(text[b - m_hi : b]) <= limit:
        m = m_hi
    else:  # binary search the longest fitting tail length
        lo, hi = 0, m_hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if cost10(text[b - mid : b]) <= limit:
                lo = mid
            else:
                hi = mid
        m = lo
    p = b - m
    if align and p > a:
        step = CHAR_ALIGN
        while step > 1:
            q = a + -(-(p - a) // step) * step
            if q <= b:
                p = q
                break
            step //= 2
    if p < b and _splits_pair(text, p):
        p += 1
    return p


def _cut_head(text: str, a: int, b: int, limit: int) -> int:
    """Largest ``e`` in [a, b] with cost(text[a:e]) <= limit, never splitting "\\r\\n"."""
    m_hi = min(b - a, max(limit, 0) // ASCII_COST)
    if cost10(text[a : a + m_hi]) <= limit:
        m = m_hi
    else:
        lo, hi = 0, m_hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if cost10(text[a : a + mid]) <= limit:
                lo = mid
            else:
                hi = mid
        m = lo
    e = a + m
    if e > a and _splits_pair(text, e):
        e -= 1
    return e


def _prefix_start(
    text: str, offset: int, budget_tokens: int, chunk_lines: int, sliding: bool
) -> int:
    """Where the prefix window starts; see the module docstring for the alignment rule."""
    if budget_tokens <= 0 or offset <= 0:
        return offset
    limit = budget_tokens * 10
    line_start = text.rfind("\n", 0, offset) + 1
    used = _fits(text, line_start, offset, limit)
    if used is None:  # the cursor line alone is too long: cut inside it
        return _cut_tail(text, line_start, offset, limit, not sliding)
    starts = [line_start]  # line starts walked so far, cursor line first
    while line_start > 0:
        prev = text.rfind("\n", 0, line_start - 1) + 1
        cost = _fits(text, prev, line_start, limit - used)
        if cost is None:
            if len(starts) == 1 and _fits(text, prev, line_start, limit) is None:
                # the line above alone exceeds the budget (minified code): take its tail
                return _cut_tail(text, prev, line_start, limit - used, not sliding)
            break
        used += cost
        line_start = prev
        starts.append(prev)
    if line_start == 0 or sliding:
        return line_start
    # Cache-friendly: the smallest line number >= the earliest fitting one that is a multiple of
    # chunk_lines (halving the step when the window is shorter than a chunk).
    first_line = text.count("\n", 0, line_start)
    cursor_line = first_line + len(starts) - 1
    step = max(chunk_lines, 1)
    while True:
        aligned = -(-first_line // step) * step
        if aligned <= cursor_line or step == 1:
            break
        step //= 2
    return starts[cursor_line - aligned]


def _suffix_end(text: str, offset: int, budget_tokens: int) -> int:
    """Where the suffix window ends: after whole lines (the "\\n" included) within budget."""
    n = len(text)
    if budget_tokens <= 0 or offset >= n:
        return offset
    limit = budget_tokens * 10
    nl = text.find("\n", offset)
    end = n if nl < 0 else nl + 1
    used = _fits(text, offset, end, limit)
    if used is None:
        return _cut_head(text, offset, end, limit)
    whole_lines = 0
    while end < n:
        nl = text.find("\n", end)
        nxt = n if nl < 0 else nl + 1
        cost = _fits(text, end, nxt, limit - used)
        if cost is None:
            if whole_lines == 0 and _fits(text, end, nxt, limit) is None:
                # the line below alone exceeds the budget (minified code): take its head
                return _cut_head(text, end, nxt, limit - used)
            break
        used += cost
        end = nxt
        whole_lines += 1
    return end


# --- the window --------------------------------------------------------------------------------


def build_window(
    text: str,
    offset: int,
    *,
    uri: str,
    language_id: str,
    prefix_tokens: int,
    suffix_tokens: int,
    others: Sequence[OpenDocument] = (),
    cross_file_tokens: int = 0,
    chunk_lines: int = 32,
    sliding: bool = False,
) -> FimWindow:
    """Cut the prompt and suffix around ``offset`` (a code-point index into ``text``).

    The prefix starts at a line start (the file start while it fits, else a line number that is
    a multiple of ``chunk_lines``; ``sliding=True`` starts as early as the budget allows instead).
    The suffix ends after a whole line. Only a line too long for the budget is cut inside, never
    between "\\r" and "\\n". Cross-file snippets, if any, come first under their own budget.
    """
    offset = max(0, min(offset, len(text)))
    start = _prefix_start(text, offset, prefix_tokens, chunk_lines, sliding)
    end = _suffix_end(text, offset, suffix_tokens)
    prefix = text[start:offset]
    header, uris = "", tuple[str, ...]()
    if cross_file_tokens > 0 and others:
        header, uris = cross_file_header(text, offset, uri, language_id, others, cross_file_tokens)
    return FimWindow(
        prompt=header + prefix,
        suffix=text[offset:end],
        prefix=prefix,
        prefix_start=start,
        suffix_end=end,
        context_uris=uris,
    )
