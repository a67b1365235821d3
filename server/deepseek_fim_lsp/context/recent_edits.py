"""What was just edited elsewhere: the last few edited ranges of other documents, newest first.

Recorded on every content change (a few ``find`` calls, no line index), kept as the few lines
around the edit as they read after it. A later edit near a kept one replaces it and moves it to
the front. Shown for documents other than the current one, within their own budget share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RecentEdits"]

#: Edited ranges kept (over all documents).
MAX_EDITS = 6
#: Lines shown around an edit (before, after the edited line).
LINES_BEFORE, LINES_AFTER = 1, 2
#: Lines kept of one edit at most.
MAX_LINES = 8
#: An edit within this many lines of a kept one is the same edit going on.
NEAR_LINES = 4
_MAX_LINE_CHARS = 300


@dataclass(frozen=True)
class Edit:
    uri: str
    line: int  # 0-based line of the edit's end, for merging
    first_line: int  # 0-based first line of ``text``
    text: str  # the lines around the edit, ending in "\n"


def _around(text: str, begin: int, offset: int) -> tuple[int, str]:
    """(offset of the first line shown, the lines from before ``begin`` to after ``offset``)."""
    start = text.rfind("\n", 0, begin) + 1
    for _ in range(LINES_BEFORE):
        if start > 0:
            start = text.rfind("\n", 0, start - 1) + 1
    end = offset
    for _ in range(LINES_AFTER + 1):
        nl = text.find("\n", end)
        if nl < 0:
            end = len(text)
            break
        end = nl + 1
    lines = [ln[:_MAX_LINE_CHARS] for ln in text[start:end].split("\n")][:MAX_LINES]
    body = "\n".join(lines)
    return start, body if body.endswith("\n") or not body else body + "\n"


class RecentEdits:
    """The recent-edit ring; no I/O, memory bounded by MAX_EDITS × a few lines."""

    def __init__(self) -> None:
        self._edits: list[Edit] = []  # newest first

    def record(self, uri: str, text: str, begin: int, end: int, line: int) -> None:
        """After an edit of ``uri`` whose new text is ``text[begin:end]``, starting on 0-based
        ``line`` (the caller knows it from the edit's range: no counting here, so a 10 MB
        document costs the same as a small one)."""
        end = max(0, min(end, len(text)))
        begin = max(0, min(begin, end))
        start, body = _around(text, begin, end)
        if not body.strip():
            return
        first = max(0, line - text.count("\n", start, begin))
        kept = [e for e in self._edits if not (e.uri == uri and abs(e.line - line) <= NEAR_LINES)]
        self._edits = [Edit(uri, line, first, body), *kept][:MAX_EDITS]

    def forget(self, uri: str) -> None:
        self._edits = [e for e in self._edits if e.uri != uri]

    def clear(self) -> None:
        self._edits = []

    def for_prompt(
        self, current_uri: str, budget_tokens: int, allowed: Callable[[str], bool],
        cost: Callable[[str], int],
    ) -> list[Edit]:
        """Edits of other documents, newest first, within ``budget_tokens``."""
        out: list[Edit] = []
        left = budget_tokens
        for e in self._edits:
            if e.uri == current_uri or not allowed(e.uri):
                continue
            need = cost(e.text) + 12
            if need <= left:
                out.append(e)
                left -= need
        return out
