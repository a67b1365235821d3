"""Tree-sitter as the judge between a few ways of cutting a suggestion.

The line scan (:mod:`.cut`) finds where a suggestion ends from indentation and
keywords, and offers the clean-up a few readings of it: with or without the closing line the
model wrote, replacing the closers after the cursor or not. Here each reading is inserted into
(a window of) the document and parsed; the reading that adds the fewest parse errors wins. A
language without a grammar, a parse over the time budget, or a window that cuts off brackets
opened far above (deep in a huge class) gives no verdict, and the heuristics decide.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Sequence

import tree_sitter

from ..syntax.languages import parser_for
from .text import open_brackets_before

#: Characters of document kept around the cursor for a parse (a window in huge files).
PREFIX_WINDOW = 4000
SUFFIX_WINDOW = 1500
#: A reading whose parse takes longer than this turns the judge off for the call.
BUDGET_MS = 10.0

_TOP_LEVEL = re.compile(r"\n(?=[^\s)\]}])")


def errors(parser: tree_sitter.Parser, text: str) -> int:
    """How many ERROR and MISSING nodes the parse of ``text`` has."""
    tree = parser.parse(text.encode("utf-8", "surrogatepass"))
    count = 0
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        if node.has_error:
            stack.extend(node.children)
    return count


@functools.lru_cache(maxsize=4)
def cut_off_open(prefix: str) -> bool:
    """The prefix window leaves out brackets still open at its start (a class header far
    above): a parse of the window would pair the suffix's closers wrongly, so no verdict."""
    before, _ = window(prefix, "")
    return open_brackets_before(prefix[: len(prefix) - len(before)]) > 0


def window(prefix: str, suffix: str) -> tuple[str, str]:
    """The part of prefix and suffix to parse: whole lines near the cursor, starting at the
    least indented line of the prefix window (a top-level line when there is one) and ending
    before the last top-level line of the suffix window (else at a line end)."""
    if len(prefix) > PREFIX_WINDOW:
        part = prefix[-PREFIX_WINDOW:]
        m = _TOP_LEVEL.search(part)
        prefix = part[m.end() :] if m else _from_shallowest_line(part)
    if len(suffix) > SUFFIX_WINDOW:
        part = suffix[:SUFFIX_WINDOW]
        starts = [m.start() for m in _TOP_LEVEL.finditer(part)]
        suffix = part[: starts[-1]] if starts else part[: max(0, part.rfind("\n"))]
    return prefix, suffix


def _from_shallowest_line(part: str) -> str:
    """``part`` from the start of its least indented complete line (not a closing one)."""
    best, best_w = len(part), None
    pos = part.find("\n")
    while pos >= 0:
        start = pos + 1
        line = part[start : part.find("\n", start) if "\n" in part[start:] else len(part)]
        if line.strip() and line.lstrip()[0] not in ")]}":
            w = len(line) - len(line.lstrip(" \t"))
            if best_w is None or w < best_w:
                best, best_w = start, w
        pos = part.find("\n", start)
    return part[best:] if best_w is not None else part


def choose(
    prefix: str, suffix: str, options: Sequence[tuple[str, int]], language: str
) -> int | None:
    """Index of the reading ``(text, replace)`` that parses with the fewest errors.

    None when there is no verdict: no grammar, too slow, or all readings parse alike.
    Ties go to the earlier reading (callers put the heuristic's choice first).
    """
    parser = parser_for(language) if language else None
    if parser is None or len(options) < 2 or cut_off_open(prefix):
        return None
    before, after = window(prefix, suffix)
    t0 = time.perf_counter()
    scores: list[int] = []
    for text, replace in options:
        scores.append(errors(parser, before + text + after[replace:]))
        if (time.perf_counter() - t0) * 1000 > BUDGET_MS * len(scores):
            return None  # too slow here (a huge line, a loaded machine): heuristics decide
    best = min(range(len(scores)), key=lambda i: (scores[i], i))
    if all(s == scores[best] for s in scores):
        return None
    return best


#: At most this many shorter cuts are tried (the last lines of a long suggestion).
MAX_CUTS = 12


def shorten(prefix: str, suffix: str, text: str, replace: int, language: str) -> int | None:
    """The longest shorter cut (at a line end) of a multi-line suggestion that adds no parse
    error the document did not already have, when the whole suggestion adds some: the length
    to keep, or None (keep it all / no verdict).
    """
    parser = parser_for(language) if language else None
    if parser is None or "\n" not in text or cut_off_open(prefix):
        return None
    before, after = window(prefix, suffix)
    rest = after[replace:]
    t0 = time.perf_counter()
    whole = errors(parser, before + text + rest)
    if whole == 0:
        return None
    baseline = errors(parser, before + after)
    if whole <= baseline:
        return None
    ends = [i for i, c in enumerate(text) if c == "\n" and text[:i].strip()]
    for n, end in enumerate(reversed(ends[-MAX_CUTS:]), start=3):
        if (time.perf_counter() - t0) * 1000 > BUDGET_MS * n:
            return None
        cut = text[:end].rstrip()
        if errors(parser, before + cut + rest) <= baseline:
            return len(cut)
    return None
