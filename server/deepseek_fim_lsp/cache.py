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

import itertools
from collections.abc import Hashable
from dataclasses import dataclass, field
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
    line is used up — then the next line (after the line break) is shown."""
    if not single:
        return rest
    lines = rest.split("\n")
    if lines[0].strip() or len(lines) == 1:
        return lines[0]
    return lines[0] + "\n" + lines[1]


_serials = itertools.count(1)


@dataclass(frozen=True)
class _Shown:
    text: str  # the document when the suggestion was made
    offset: int
    items: tuple[Suggestion, ...]  # full texts, lookahead included
    single: bool
    #: Identifies the suggestion across extensions (unlike ``id()``, never reused).
    serial: int = field(default_factory=lambda: next(_serials))


@dataclass(frozen=True)
class Remainder:
    """Where a type-through answer stands: the entry it came from and its untyped rest."""

    entry: object
    serial: int
    rest: str


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

    def remainder(self, uri: str, text: str, offset: int) -> Remainder | None:
        """The untyped rest (lookahead included) of the first suggestion, if typed through."""
        shown = self._last.get(uri)
        if shown is None or not shown.items:
            return None
        typed = typed_since(shown.text, shown.offset, text, offset)
        first = shown.items[0].text
        if typed is None or not first.startswith(typed):
            return None
        return Remainder(shown, shown.serial, first[len(typed):])

    def looks_like_typo(self, uri: str, text: str, offset: int) -> bool:
        """True when the suggestion was typed through up to the last character, which differs
        (a slip the user usually fixes a moment later)."""
        shown = self._last.get(uri)
        if shown is None or not shown.items:
            return False
        typed = typed_since(shown.text, shown.offset, text, offset)
        if not typed:
            return False
        first = shown.items[0].text
        return not first.startswith(typed) and first.startswith(typed[:-1])

    def extend(self, uri: str, entry: object, more: str) -> bool:
        """Append ``more`` (a prefetched continuation) to the first suggestion of ``entry``,
        if that is still the document's current suggestion."""
        shown = self._last.get(uri)
        if shown is not entry or shown is None or not more.strip():
            return False
        first = shown.items[0]
        items = (Suggestion(first.text + more, first.replace),) + shown.items[1:]
        self._last[uri] = _Shown(shown.text, shown.offset, items, shown.single, shown.serial)
        return True

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
