"""Open documents and LSP position arithmetic.

pygls' own document model splits lines with ``str.splitlines``, which also breaks at form feeds,
``\\x1c``-``\\x1e``, ``\\u2028`` and friends; LSP only knows ``\\n``, ``\\r\\n`` and ``\\r``. An
incremental edit on a line holding one of those would land in the wrong place, so we keep our own
store: the text plus an index of line starts that each edit updates locally.

Offsets are Python string indices (code points). Columns are in the negotiated position encoding:
``utf-16`` (LSP default), ``utf-8`` or ``utf-32``.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from dataclasses import dataclass, field

ENCODINGS = ("utf-16", "utf-8", "utf-32")


class PositionError(ValueError):
    """A position that does not exist in the document (line past the end, negative numbers)."""


def _units(ch: str, encoding: str) -> int:
    cp = ord(ch)
    if encoding == "utf-16":
        return 2 if cp > 0xFFFF else 1
    if encoding == "utf-8":
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    return 1


def _is_line_start(text: str, p: int) -> bool:
    c = text[p - 1]
    return c == "\n" or (c == "\r" and (p >= len(text) or text[p] != "\n"))


def line_starts(text: str) -> list[int]:
    """Offsets at which each line starts (LSP line breaks only)."""
    starts = [0]
    find = text.find
    i = 0
    n = len(text)
    # Fast path: scan for \n, then handle lone \r only if the text has any.
    if "\r" not in text:
        while True:
            i = find("\n", i)
            if i < 0:
                return starts
            i += 1
            starts.append(i)
    for p in range(1, n + 1):
        if _is_line_start(text, p):
            starts.append(p)
    return starts


@dataclass
class Document:
    uri: str
    text: str
    language_id: str = "plaintext"
    version: int | None = None
    last_touched: float = field(default_factory=time.monotonic)
    _starts: list[int] | None = field(default=None, repr=False)

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = line_starts(self.text)
        return self._starts

    def line_text(self, line: int) -> str:
        """The line's text without its line break."""
        starts = self.starts
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        s = self.text[starts[line]:end]
        return s.rstrip("\r\n") if s.endswith(("\n", "\r")) else s

    def offset_at(self, line: int, character: int, encoding: str = "utf-16") -> int:
        """Offset of an LSP position. A column past the line end means the line end (LSP rule)."""
        if line < 0 or character < 0:
            raise PositionError(f"negative position {line}:{character}")
        starts = self.starts
        if line >= len(starts):
            raise PositionError(
                f"line {line} is past the end of the document ({len(starts)} lines)"
            )
        content = self.line_text(line)
        if encoding == "utf-32" or content.isascii():
            return starts[line] + min(character, len(content))
        # Codec speed (a long minified line must not stall the server): cut the encoded text
        # at the column; a character cut in two is dropped, i.e. snapped to its start. Lone
        # surrogates (JSON strings may carry them) do not encode: count them one by one.
        codec, width = ("utf-16-le", 2) if encoding == "utf-16" else ("utf-8", 1)
        try:
            cut = content[:character].encode(codec)[: character * width]
        except UnicodeEncodeError:
            pass
        else:
            return starts[line] + len(cut.decode(codec, "ignore"))
        units = 0
        for i, ch in enumerate(content):
            if units >= character:
                return starts[line] + i
            units += _units(ch, encoding)
            if units > character:  # inside a surrogate pair / multibyte char: snap to its start
                return starts[line] + i
        return starts[line] + len(content)

    def position_at(self, offset: int, encoding: str = "utf-16") -> tuple[int, int]:
        """LSP (line, character) of an offset."""
        text = self.text
        offset = max(0, min(offset, len(text)))
        if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
            offset -= 1  # inside a \r\n line break: that is the end of the line's text
        starts = self.starts
        line = bisect_right(starts, offset) - 1
        prefix = self.text[starts[line]:offset]
        if encoding == "utf-32" or prefix.isascii():
            return line, len(prefix)
        if encoding == "utf-16":
            return line, len(prefix.encode("utf-16-le", "surrogatepass")) // 2
        return line, len(prefix.encode("utf-8", "surrogatepass"))

    def apply_change(self, start: int, end: int, new_text: str) -> None:
        """Replace ``text[start:end]`` and update the line index around the edit only."""
        old = self.text
        start = max(0, min(start, len(old)))
        end = max(start, min(end, len(old)))
        text = old[:start] + new_text + old[end:]
        self.text = text
        self.last_touched = time.monotonic()
        if self._starts is None:
            return
        # In place: copying the list of a 10 MB document's 300,000 line starts costs ~4 ms a
        # time, and a keystroke at its end changes none of them.
        starts = self._starts
        delta = len(new_text) - (end - start)
        keep = max(1, bisect_right(starts, start - 1))  # starts[0] == 0 always stays
        lo = max(1, start)
        hi = min(start + len(new_text), len(text))
        mid = [p for p in range(lo, hi + 1) if _is_line_start(text, p)]
        tail_from = bisect_right(starts, end)
        if delta:
            starts[tail_from:] = [s + delta for s in starts[tail_from:]]
        starts[keep:tail_from] = mid

    def replace_all(self, text: str) -> None:
        self.text = text
        self._starts = None
        self.last_touched = time.monotonic()


class DocumentStore:
    """The documents the editor has open, keyed by URI."""

    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}

    def open(self, uri: str, text: str, language_id: str = "plaintext",
             version: int | None = None) -> Document:
        doc = Document(uri, text, language_id or "plaintext", version)
        self._docs[uri] = doc
        return doc

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def get(self, uri: str) -> Document | None:
        doc = self._docs.get(uri)
        return doc

    def touch(self, uri: str) -> None:
        doc = self._docs.get(uri)
        if doc is not None:
            doc.last_touched = time.monotonic()

    def all(self) -> list[Document]:
        return list(self._docs.values())

    def __len__(self) -> int:
        return len(self._docs)
