"""Answers we already paid for: an exact cache, and type-through of the last suggestion.

* Exact: keyed by everything that shapes the answer (model, prompt, suffix, length, temperature,
  mode, count). The same state asked again costs no request.
* Type-through: after a suggestion ``S`` at offset ``o``, if the user types ``t`` and ``S`` starts
  with ``t``, the document now equals the old one with ``t`` inserted at ``o``; the rest of ``S`` is
  the answer, with no debounce and no request, until it is used up or the typing diverges.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from cachetools import LRUCache

from .postprocess import Suggestion

#: How much text around the cursor must match for a type-through answer to be trusted.
_GUARD = 4096


class CompletionCache:
    def __init__(self, size: int) -> None:
        self._cache: LRUCache[Hashable, tuple[Suggestion, ...]] | None = (
            LRUCache(maxsize=size) if size > 0 else None
        )
        self.hits = 0

    def get(self, key: Hashable) -> tuple[Suggestion, ...] | None:
        if self._cache is None:
            return None
        found = self._cache.get(key)
        if found is not None:
            self.hits += 1
        return found

    def put(self, key: Hashable, items: tuple[Suggestion, ...]) -> None:
        if self._cache is not None and items:
            self._cache[key] = items

    def resize(self, size: int) -> None:
        if self._cache is None or self._cache.maxsize != size:
            self._cache = LRUCache(maxsize=size) if size > 0 else None

    def __len__(self) -> int:
        return 0 if self._cache is None else len(self._cache)


@dataclass(frozen=True)
class _Shown:
    text: str  # the document when the suggestion was made
    offset: int
    items: tuple[Suggestion, ...]


class TypeThrough:
    """Remembers the last suggestion per document and serves its remainder while it is typed."""

    def __init__(self, max_docs: int = 64) -> None:
        self._last: LRUCache[str, _Shown] = LRUCache(maxsize=max_docs)
        self.hits = 0

    def remember(self, uri: str, text: str, offset: int, items: tuple[Suggestion, ...]) -> None:
        if items:
            self._last[uri] = _Shown(text, offset, items)
        else:
            self._last.pop(uri, None)

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)

    def lookup(self, uri: str, text: str, offset: int) -> tuple[Suggestion, ...] | None:
        shown = self._last.get(uri)
        if shown is None:
            return None
        typed_len = offset - shown.offset
        if typed_len < 0 or len(text) - len(shown.text) != typed_len:
            return None
        o = shown.offset
        # The text around the edit must be the old text with `typed` inserted at o.
        if text[max(0, o - _GUARD):o] != shown.text[max(0, o - _GUARD):o]:
            return None
        if text[offset:offset + _GUARD] != shown.text[o:o + _GUARD]:
            return None
        if typed_len == 0:
            return None  # the very same state: the exact cache answers it
        typed = text[o:offset]
        rest = tuple(
            Suggestion(s.text[typed_len:], s.replace)
            for s in shown.items
            if s.text.startswith(typed) and len(s.text) > typed_len
            and s.text[typed_len:].strip()
        )
        if not rest:
            return None
        self.hits += 1
        return rest
