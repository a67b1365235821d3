"""Where a suggestion ends: the line scan shared by streaming early-stop and the clean-up.

The same :func:`cut` judges the streamed text (complete lines only) and the final answer, so
stopping the stream early never changes the suggestion; the multi-line scan is resumable, so
each streamed chunk costs only its new lines.
"""

from __future__ import annotations

from typing import Literal

from .text import (
    CLOSING_LINE,
    GOES_ON,
    REOPENS,
    WORD,
    Cursor,
    indent_width,
    leading_ws,
)

Mode = Literal["single", "multi"]

_LOOP_MAX_BLOCK = 8
_LONG_LINE = 12


def single_cut(text: str, cur: Cursor, final: bool) -> int | None:
    """End of the first line with content.

    A leading line break is kept (the suggestion starts on the next line) only when the rest
    of the cursor line is blank; otherwise it would split the line, so we stop right there.
    When the cursor sits before existing text at the start of a line, the line break after
    the content is kept so the existing text stays on its own line.
    """
    line_start = 0
    may_break = cur.after.strip() == ""
    keep_break = cur.before.strip() == "" and not may_break
    while True:
        nl = text.find("\n", line_start)
        if nl < 0:
            return len(text) if final else None
        if text[line_start:nl].strip():
            return nl + 1 if keep_break else nl
        if not may_break:
            return nl
        line_start = nl + 1


class Scan:
    """The multi-mode scan: a left-to-right fold over complete lines, resumable.

    A cut before line ``i`` is the offset of the line break that ends line ``i - 1`` (0 for the
    first line), so cuts need no list of line positions and the scan can stop after any line
    and go on later from there.
    """

    def __init__(self, cur: Cursor) -> None:
        self.cur = cur
        self.pos = 0  # where the next line starts
        self.index = 0  # number of the next line (0 = the rest of the cursor line)
        self.result: int | None = None  # the cut, once found
        self.seq: list[str] = list(cur.context)  # recent non-blank full lines, for loops
        self.seq_cut: list[int] = [-1] * len(self.seq)  # cut before that line (-1: prefix)
        self.pending: int | None = None  # cut before a short copy of the first suffix line

    def run(self, text: str, final: bool) -> int | None:
        """Scan the complete lines not seen yet (and the last one too when ``final``)."""
        while self.result is None:
            nl = text.find("\n", self.pos)
            if nl < 0:
                if final:
                    self.result = self._line(self.pos, text[self.pos :])
                return self.result
            self.result = self._line(self.pos, text[self.pos : nl])
            self.pos = nl + 1
        return self.result

    def _line(self, start: int, raw: str) -> int | None:
        cur = self.cur
        i = self.index
        self.index += 1
        line = raw.rstrip("\r")
        full_line = (cur.before + line if i == 0 else line).rstrip()
        stripped = full_line.strip()
        if not stripped:
            return None
        here = 0 if i == 0 else start - 1
        # 1. A short copy of the first line after the cursor, now followed by the second.
        if self.pending is not None:
            pending, self.pending = self.pending, None
            if stripped == cur.suffix_lines[1]:
                return pending
        # 2. Leaving the block scope (only real lines after the cursor line count).
        width = indent_width(leading_ws(line))
        if i > 0 and width < cur.scope_w:
            goes_on = GOES_ON.match(stripped) is not None and REOPENS.search(stripped)
            if goes_on and cur.block_ends and width == cur.opener_w:
                pass  # `} else {` right below the block the cursor opened: the if/else goes on
            elif CLOSING_LINE.match(stripped) and not REOPENS.search(stripped):
                return start + len(raw) if cur.keep_closer else here
            else:
                return here
        # 3. The model starts writing the lines that follow the cursor.
        whole_line = i > 0 or not cur.before.strip()
        if whole_line and cur.suffix_lines and stripped == cur.suffix_lines[0]:
            if WORD.search(stripped):
                if len(cur.suffix_lines) == 1 or len(stripped) >= _LONG_LINE:
                    return here
                self.pending = here
        # 4. The model loops: one line 3x, or a block of 2..8 lines twice in a row.
        self.seq.append(full_line)
        self.seq_cut.append(here)
        if len(self.seq) > 2 * _LOOP_MAX_BLOCK:
            del self.seq[0], self.seq_cut[0]
        first = _loop_start(self.seq)
        if first is not None:
            return next((c for c in self.seq_cut[first:] if c >= 0), None)
        return None


# Scans paused at the end of the text they last saw, so each streamed chunk only costs the
# new lines. A memo, not state: a miss just scans from the start.
_PAUSED: list[tuple[str, Scan]] = []
_PAUSED_MAX = 8


def multi_cut(text: str, cur: Cursor, final: bool) -> int | None:
    """Multi mode: go on with a paused scan of this stream when there is one."""
    if final:
        return Scan(cur).run(text, True)
    scan = None
    for n, (seen, paused) in enumerate(_PAUSED):
        if paused.cur is cur and text.startswith(seen):
            scan = paused
            del _PAUSED[n]
            break
    if scan is None:
        scan = Scan(cur)
    result = scan.run(text, False)
    _PAUSED.insert(0, (text[: scan.pos], scan))
    del _PAUSED[_PAUSED_MAX:]
    return result


def _loop_start(seq: list[str]) -> int | None:
    """Index in ``seq`` where a repetition ending at the last entry starts being redundant."""
    n = len(seq)
    last = seq[-1]
    if n >= 3 and seq[-2] == last and seq[-3] == last and WORD.search(last):
        return n - 2  # keep one copy
    for k in range(2, _LOOP_MAX_BLOCK + 1):
        if 2 * k > n:
            break
        if seq[n - k :] == seq[n - 2 * k : n - k] and any(WORD.search(x) for x in seq[n - k :]):
            return n - k
    return None


def cut(text: str, *, mode: Mode, prefix: str, suffix: str, final: bool = True) -> int | None:
    """Index where the suggestion is complete, or None (keep everything / keep reading).

    With ``final=False`` only complete lines are judged, so a cut found while streaming is the
    same cut the final clean-up finds on the whole answer.
    """
    cur = Cursor.of(prefix, suffix)
    if mode == "single":
        return single_cut(text, cur, final)
    return multi_cut(text, cur, final)


def early_stop(text: str, *, mode: Mode, prefix: str, suffix: str) -> int | None:
    """Called on the accumulated streamed text: where to stop, or None to keep reading.

    The scan is linear in the answer (a few comparisons per line, loops looked for in an
    8-line window), and nothing is done at all in multi mode until a line is complete.
    """
    if mode == "multi" and "\n" not in text:
        return None
    return cut(text, mode=mode, prefix=prefix, suffix=suffix, final=False)
