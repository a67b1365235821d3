"""Answers we already paid for: an exact cache, and type-through of recent suggestions.

* Exact: keyed by everything that shapes the answer (model, prompt, suffix, length, temperature,
  mode, count). The same state asked again costs no request.
* Type-through: after a suggestion ``S`` at offset ``o``, if the user types ``t`` and ``S`` starts
  with ``t``, the document now equals the old one with ``t`` inserted at ``o``; the rest of ``S`` is
  the answer, with no debounce and no request, until it is used up or the typing diverges. A
  one-line suggestion may carry the model's next line as *lookahead*: it is not shown, but once
  the user has typed the line and pressed Enter it is served the same way; lines asked for
  ahead are appended the same way (:meth:`TypeThrough.extend`). The last four suggestions per
  document are kept, newest first.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cachetools import LRUCache

from ..postprocess import Suggestion

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

    def peek(self, key: Hashable) -> V | None:
        """The entry, without counting a hit (for updating it)."""
        return None if self._cache is None else self._cache.get(key)

    def put(self, key: Hashable, value: V) -> None:
        if self._cache is not None:
            self._cache[key] = value

    def resize(self, size: int) -> None:
        if self._cache is None or self._cache.maxsize != size:
            self._cache = LRUCache(maxsize=size) if size > 0 else None

    def __len__(self) -> int:
        return 0 if self._cache is None else len(self._cache)


@dataclass(frozen=True)
class Snapshot:
    """A document state reduced to what type-through compares: the text around the cursor and
    the length (a change far from the cursor does not matter). Holding this instead of the text
    keeps remembered suggestions small in a 10 MB document."""

    before: str
    after: str
    length: int
    offset: int

    @classmethod
    def of(cls, text: str, offset: int) -> Snapshot:
        return cls(text[max(0, offset - _GUARD):offset], text[offset:offset + _GUARD],
                   len(text), offset)

    def typed(self, new: str, new_offset: int) -> str | None:
        """The text typed at the cursor since this state, or None if ``new`` is not that."""
        typed_len = new_offset - self.offset
        if typed_len < 0 or len(new) - self.length != typed_len:
            return None
        if new[max(0, self.offset - _GUARD):self.offset] != self.before:
            return None
        if new[new_offset:new_offset + _GUARD] != self.after:
            return None
        return new[self.offset:new_offset]


def shown_part(rest: str, single: bool) -> str:
    """What to show of a remainder: a one-line suggestion shows up to its line end, unless the
    line is used up — then up to the next line with content (blank lines before it included)."""
    if not single:
        return rest
    lines = rest.split("\n")
    if lines[0].strip() or len(lines) == 1:
        return lines[0]
    k = next((i for i, ln in enumerate(lines) if ln.strip()), len(lines) - 1)
    return "\n".join(lines[:k + 1])


_serials = itertools.count(1)
#: Suggestions remembered per document: a look elsewhere (cursor up and back, an answer there)
#: must not lose the one being typed.
_KEEP = 4


@dataclass(frozen=True)
class _Shown:
    state: Snapshot  # the document when the suggestion was made
    items: tuple[Suggestion, ...]  # full texts, lookahead included
    single: bool
    #: Identifies the suggestion across extensions (unlike ``id()``, never reused).
    serial: int = field(default_factory=lambda: next(_serials))
    #: Asked what follows it, the model had nothing to add: its end is the end.
    closed: bool = False


@dataclass(frozen=True)
class Remainder:
    """Where a type-through answer stands: the entry it came from and its untyped rest."""

    serial: int
    rest: str
    #: Length of the first suggestion held (grows when the entry is extended).
    held: int
    #: Nothing follows the entry's end (see :meth:`TypeThrough.ends_here`).
    closed: bool = False


class TypeThrough:
    """Remembers the last few suggestions per document and serves the remainder of the newest
    one being typed."""

    def __init__(self, max_docs: int = 64) -> None:
        self._last: LRUCache[str, tuple[_Shown, ...]] = LRUCache(maxsize=max_docs)
        self.hits = 0
        self.enabled = True

    def remember(self, uri: str, text: str, offset: int, items: tuple[Suggestion, ...],
                 single: bool = False) -> int | None:
        """Keep ``items`` (the first one with its lookahead) for this state; its serial."""
        if not items or not self.enabled:
            return None
        shown = _Shown(Snapshot.of(text, offset), items, single)
        older = tuple(e for e in self._last.get(uri, ()) if e.state != shown.state)
        self._last[uri] = (shown,) + older[:_KEEP - 1]
        return shown.serial

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)

    def _typed(self, uri: str, text: str, offset: int) -> list[tuple[_Shown, str]]:
        """The remembered entries this state typed on from, newest first, with what was typed."""
        found = []
        for shown in self._last.get(uri, ()):
            typed = shown.state.typed(text, offset)
            if typed is not None:
                found.append((shown, typed))
        return found

    def remainder(self, uri: str, text: str, offset: int) -> Remainder | None:
        """The untyped rest (lookahead included) of the first suggestion, if typed through."""
        for shown, typed in self._typed(uri, text, offset):
            first = shown.items[0].text
            if first.startswith(typed):
                return Remainder(shown.serial, first[len(typed):], len(first), shown.closed)
        return None

    def looks_like_typo(self, uri: str, text: str, offset: int) -> bool:
        """True when a suggestion was typed through up to the last character, which differs
        (a slip the user usually fixes a moment later)."""
        for shown, typed in self._typed(uri, text, offset):
            first = shown.items[0].text
            if typed and not first.startswith(typed) and first.startswith(typed[:-1]):
                return True
        return False

    def extend(self, uri: str, rem: Remainder, more: str) -> bool:
        """Append ``more`` (a prefetched continuation) to the first suggestion of the entry
        ``rem`` came from, if that is still remembered as it was. From then on it is shown a
        line at a time: what was appended is the model's guess at the lines after, not part of
        the block it suggested. Nothing to append closes the entry (see :meth:`ends_here`)."""
        entries = self._last.get(uri, ())
        shown = next((e for e in entries if e.serial == rem.serial
                      and len(e.items[0].text) == rem.held), None)
        if shown is None:
            return False
        first = shown.items[0]
        if more.strip(" \t"):  # content, or the blank lines before the code below
            items = (Suggestion(first.text + more, first.replace),) + shown.items[1:]
            grown = _Shown(shown.state, items, True, shown.serial)
        else:
            grown = _Shown(shown.state, shown.items, shown.single, shown.serial, closed=True)
        self._last[uri] = tuple(grown if e is shown else e for e in entries)
        return bool(more.strip(" \t"))

    def ends_here(self, uri: str, text: str, offset: int) -> bool:
        """True when this state typed a suggestion to its very end and the model, asked what
        follows, had nothing to add: asking again here would only repeat that."""
        for shown, typed in self._typed(uri, text, offset):
            first = shown.items[0].text
            if typed and first.startswith(typed) and not first[len(typed):].strip():
                return shown.closed
        return False

    def lookup(self, uri: str, text: str, offset: int) -> tuple[Suggestion, ...] | None:
        """The suggestions to show now, or None when this state is not a typed-through one."""
        for shown, typed in self._typed(uri, text, offset):
            if not typed:
                continue  # the very same state: the exact cache answers that
            n = len(typed)
            rest = tuple(
                Suggestion(shown_part(s.text[n:], shown.single), s.replace)
                for s in shown.items
                if s.text.startswith(typed) and s.text[n:].strip()
            )
            if rest:
                self.hits += 1
                return rest
        return None
