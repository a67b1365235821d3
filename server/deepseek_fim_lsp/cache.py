"""Answers we already paid for: an exact cache, and type-through of the last suggestion.

* Exact: keyed by everything that shapes the answer (model, prompt, suffix, length, temperature,
  mode, count). The same state asked again costs no request.
* Type-through: after a suggestion ``S`` at offset ``o``, if the user types ``t`` and ``S`` starts
  with ``t``, the document now equals the old one with ``t`` inserted at ``o``; the rest of ``S`` is
  the answer, with no debounce and no request, until it is used up or the typing diverges. A
  one-line suggestion may carry the model's next line as *lookahead*: it is not shown, but once
  the user has typed the line and pressed Enter it is served the same way.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import LRUCache

from .postprocess import Suggestion

#: How much text around the cursor must match for a type-through answer to be trusted.
_GUARD = 4096
V = TypeVar("V")


class CompletionCache(Generic[V]):
    def __init__(self, size: int) -> None:
        self._cache: LRUCache[Hashable, V] | None = LRUCache(maxsize=size) if size > 0 else None
        self.hits = 0

    def get(self, key: Hashable) -> V | None:
        if self._cache is None:
            return None
        found = self._cache.get(key)
        if found is not None:
            self.hits += 1
        return found

    def put(self, key: Hashable, value: V) -> None:
        if self._cache is not None:
            self._cache[key] = value

    def resize(self, size: int) -> None:
        if self._cache is None or self._cache.maxsize != size:
            self._cache = LRUCache(maxsize=size) if size > 0 else None

    def __len__(self) -> int:
        return 0 if self._cache is None else len(self._cache)


def typed_since(old: str, offset: int, new: str, new_offset: int) -> str | None:
    """The text typed at ``offset`` if ``new`` is ``old`` with it inserted there, else None.

    Only the text around the edit is compared (a change far away does not matter).
    """
    typed_len = new_offset - offset
    if typed_len < 0 or len(new) - len(old) != typed_len:
        return None
    if new[max(0, offset - _GUARD):offset] != old[max(0, offset - _GUARD):offset]:
        return None
    if new[new_offset:new_offset + _GUARD] != old[offset:offset + _GUARD]:
        return None
    return new[offset:new_offset]


def shown_part(rest: str, single: bool) -> str:
    """What to show of a remainder: a one-line suggestion shows up to its line end, unless the
    line is used up — then the lookahead line (after the line break) is shown."""
    if not single:
        return rest
    head = rest.split("\n", 1)[0]
    return head if head.strip() else rest


@dataclass(frozen=True)
class _Shown:
    text: str  # the document when the suggestion was made
    offset: int
    items: tuple[Suggestion, ...]  # full texts, lookahead included
    single: bool


class TypeThrough:
    """Remembers the last suggestion per document and serves its remainder while it is typed."""

    def __init__(self, max_docs: int = 64) -> None:
        self._last: LRUCache[str, _Shown] = LRUCache(maxsize=max_docs)
        self.hits = 0
        self.enabled = True

    def remember(self, uri: str, text: str, offset: int, items: tuple[Suggestion, ...],
                 single: bool = False) -> None:
        if items and self.enabled:
            self._last[uri] = _Shown(text, offset, items, single)
        else:
            self._last.pop(uri, None)

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)

    def lookup(self, uri: str, text: str, offset: int) -> tuple[Suggestion, ...] | None:
        """The suggestions to show now, or None when this state is not a typed-through one."""
        shown = self._last.get(uri)
        if shown is None:
            return None
        typed = typed_since(shown.text, shown.offset, text, offset)
        if not typed:
            return None  # diverged, or the very same state (the exact cache answers that)
        n = len(typed)
        rest = tuple(
            Suggestion(shown_part(s.text[n:], shown.single), s.replace)
            for s in shown.items
            if s.text.startswith(typed) and s.text[n:].strip()
        )
        if not rest:
            return None
        self.hits += 1
        return rest
