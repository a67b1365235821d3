"""Where a suggestion ends: the line scan shared by streaming early-stop and the clean-up.

The same :func:`cut` judges the streamed text (complete lines only) and the final answer, so
stopping the stream early never changes the suggestion; the multi-line scan is resumable, so
each streamed chunk costs only its new lines.
"""

from __future__ import annotations

import re
from typing import Literal

from .text import (
    CLOSING_LINE,
    GOES_ON,
    REOPENS,
    TRIPLE,
    WORD,
    Cursor,
    indent_width,
    is_closing_only,
    leading_ws,
    opens_block,
)

Mode = Literal["single", "multi"]

_FRAME_OPENER = re.compile(r"(?:[{:]|=>|->|\bdo|\bthen|\bbegin)$")
_LOOP_MAX_BLOCK = 8
_LONG_LINE = 12


_COMMENT = re.compile(r"^\s*(?://|#(?!\[)|--|/\*|\*|;)")
_HEADING = re.compile(r"^#{1,6}\s")
_MARKDOWN = ("markdown", "mdx")
_MD_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_KEYWORD_OPENER = {
    "julia": re.compile(
        r"^\s*(?:function|module|struct|mutable\s+struct|macro|for|while|if|begin|let|try)\b"
    ),
    "ruby": re.compile(r"^\s*(?:def|class|module|if|unless|while|until|case|begin)\b"),
    "lua": re.compile(r"^\s*(?:local\s+)?function\b"),
    "elixir": re.compile(r"^\s*(?:defp?|defmodule)\b.*\bdo\s*$"),
    # ML family: a definition's body or a match's arms come on the lines under `=` / `with`.
    "fsharp": re.compile(r"^.*(?:=|\bwith)\s*$"),
    "ocaml": re.compile(r"^.*(?:=|\bwith)\s*$"),
    "haskell": re.compile(r"^.*(?:=|\bwhere|\bof)\s*$"),
    "elm": re.compile(r"^.*(?:=|\bof)\s*$"),
}
_ENDS = re.compile(r"\bend\b")
_WITH = re.compile(r"\bwith\s*$")
_DECLARATION = re.compile(
    r"^(?:(?:async\s+)?def|fun|func|function|fn|class|public|private|protected|static|@\w)\b"
)
# A declaration or control line whose `{` may come alone on the next line, in the languages
# where that style (Allman, PSR-12) is common; elsewhere the next line is not waited for.
_HEADER = re.compile(
    r"^\s*(?:public|private|protected|internal|static|final|abstract|override|async|virtual"
    r"|function|class|interface|struct|enum|trait|namespace|if|else|for|foreach|while|switch"
    r"|try|catch|finally|do|using)\b[^;,={}]*$"
    r"|^[A-Za-z_][^;,={}]*\)$"  # a C function definition at column 0
)
_BRACE_NEXT_LINE = ("csharp", "php", "c", "cpp", "java")


def single_cut(
    text: str, cur: Cursor, final: bool, language: str = "", blocks: bool = True
) -> int | None:
    """End of the first line with content — or of the block, string or list it starts.

    A leading line break is kept (the suggestion starts on the next line) only when the rest
    of the cursor line is blank; otherwise it would split the line, so we stop right there.
    When the cursor sits before existing text at the start of a line, the line break after
    the content is kept so the existing text stays on its own line.

    With ``blocks`` (the ``auto`` setting) and nothing but closers after the cursor, a first
    line that opens a block goes on to the block's end (multi-line scan), an open triple-quoted
    string to its closing quotes, a Markdown heading to the next heading, and a member of a
    list-like construct (struct fields, match arms) to the construct's end.
    """
    line_start = 0
    may_break = cur.after.strip() == ""
    keep_break = cur.before.strip() == "" and not may_break
    while True:
        nl = text.find("\n", line_start)
        if nl < 0:
            return len(text) if final else None
        if text[line_start:nl].strip():
            if blocks and is_closing_only(cur.after):
                grown = _grow(text, cur, final, language, line_start, nl)
                if grown != -1:
                    return grown
            return nl + 1 if keep_break else nl
        if not may_break:
            return nl
        line_start = nl + 1


def _growth(text: str, cur: Cursor, language: str, start: int, nl: int
            ) -> tuple[str, Cursor | None, int]:
    """What the first line (``text[start:nl]``) starts: ``(kind, scope, body)``.

    Kinds: ``""`` (nothing: one line), ``"wait"`` (the next line decides), ``"string"``,
    ``"heading"``, ``"list"`` and ``"block"`` (scanned from ``body`` with ``scope``).
    """
    first = text[start:nl].rstrip("\r")
    full = cur.before + first if start == 0 else first
    if language in _MARKDOWN:
        if _HEADING.match(full):
            return "heading", cur, nl
        return ("items", cur, 0) if _MD_ITEM.match(full) else ("", None, nl)
    if _COMMENT.match(full):
        return "", None, nl
    if language == "python" and len(TRIPLE.findall(full)) % 2 == 1:
        return "string", None, nl
    if opens_block(full, first):
        return "block", cur.opened(first, start > 0), nl
    keyword = _KEYWORD_OPENER.get(language)
    if keyword is not None:
        # `end`-languages open blocks with a keyword line (`function area(r)`, `def bark`).
        if keyword.match(full) and not _ENDS.search(full):
            return "block", cur.opened(first, start > 0), nl
        if start > 0 and keyword.match(cur.before) and not _ENDS.search(cur.before):
            if _WITH.search(cur.before):
                return "items", cur, 0  # F#/OCaml arms sit at the `match`'s own depth
            return "block", cur.opened(""), 0
    if cur.in_list and cur.after.strip() == "":
        return "items", cur, 0
    if language in _BRACE_NEXT_LINE and _HEADER.search(full):
        # A declaration whose brace comes on the next line (Allman, PSR-12).
        end = text.find("\n", nl + 1)
        if end < 0:
            return "wait", None, nl
        if text[nl + 1 : end].strip() == "{":
            return "block", cur.opened(first, start > 0), end
    return "", None, nl


def _grow(text: str, cur: Cursor, final: bool, language: str, start: int, nl: int) -> int | None:
    """The end of what the first line (``text[start:nl]``) starts, or -1: it starts nothing."""
    kind, scope, body = _growth(text, cur, language, start, nl)
    if kind == "wait":
        return -1 if final else None
    if kind == "string":
        return _string_end(text, nl, final)
    if kind == "heading":
        return _heading_end(text, cur, nl, final)
    if kind == "items":
        return _items_end(text, cur, final, language)
    if scope is not None:
        end = multi_cut(text[body:], scope, final)
        return None if end is None else body + end
    return -1


def multi_end(text: str, cur: Cursor, final: bool, language: str = "") -> int | None:
    """Multi mode: the block scan — or, inside an open Python docstring, its closing line."""
    if language == "python" and cur.in_triple:
        return _string_end(text, -1, final)
    return multi_cut(text, cur, final)


def _string_end(text: str, nl: int, final: bool) -> int | None:
    """The end of the line that closes the triple-quoted string opened on the first line
    (which ends at ``nl``)."""
    pos = nl + 1
    while True:
        end = text.find("\n", pos)
        if end < 0:
            return len(text) if final else None
        if TRIPLE.search(text, pos, end):
            return end
        pos = end + 1


def _items_end(text: str, cur: Cursor, final: bool, language: str) -> int | None:
    """Members of a list-like construct (fields, variants, arms, Markdown items): the block
    scan, up to a blank line or a declaration (the next method after the fields)."""
    pos = 0
    seen = False
    while True:
        end = text.find("\n", pos)
        if end < 0:
            break
        line = text[pos:end]
        stripped = line.strip()
        if seen and (not stripped or _DECLARATION.match(stripped)
                     or (language in _MARKDOWN and not _MD_ITEM.match(line)
                         and not line.startswith((" ", "\t")))):
            inner = multi_cut(text[: max(0, pos - 1)], cur, True)
            return max(0, pos - 1) if inner is None else inner
        seen = seen or bool(stripped) or pos > 0
        pos = end + 1
    return multi_cut(text, cur, final)


def _heading_end(text: str, cur: Cursor, nl: int, final: bool) -> int | None:
    """A Markdown heading and the paragraph under it: up to the next heading."""
    pos = nl + 1
    while True:
        end = text.find("\n", pos)
        if end < 0 and not final:
            break
        if _HEADING.match(text[pos:] if end < 0 else text[pos:end]):
            inner = multi_cut(text[: pos - 1], cur, True)
            return pos - 1 if inner is None else inner
        if end < 0:
            break
        pos = end + 1
    return multi_cut(text, cur, final)


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
        self.opens = -1  # indentation of the block-opening first line, until its body starts
        self.scope_w = cur.scope_w  # lines narrower than this leave the scope
        self.closed: tuple[int, int] | None = None  # (cut after, width) of a closing line
        self.allman = any(ln.strip() == "{" for ln in cur.context)  # braces on their own line
        # where a lone `{` may follow (Allman style): under the line that opened the block
        self.brace_w = indent_width(leading_ws(cur.before))
        self.delta = 0  # added to widths: the model wrote the body in a shallower frame

    def run(self, text: str, final: bool) -> int | None:
        """Scan the complete lines not seen yet (and the last one too when ``final``)."""
        while self.result is None:
            nl = text.find("\n", self.pos)
            if nl < 0:
                if final:
                    self.result = self._line(self.pos, text[self.pos :])
                    if self.result is None and self.closed is not None:
                        self.result = self.closed[0]
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
        if self.closed is not None:
            closed, self.closed = self.closed, None
            w = indent_width(leading_ws(line)) + self.delta
            if not (w == closed[1] and GOES_ON.match(stripped) and self._goes_on(w)):
                return closed[0]
        width = indent_width(leading_ws(line))
        if i == 0:
            if _FRAME_OPENER.search(stripped):
                self.opens = indent_width(leading_ws(full_line))
        elif self.opens >= 0:
            # The first body line: at or left of its opener, it is in the model's own frame.
            if width <= self.opens and not CLOSING_LINE.match(stripped):
                step = 4 if width % 4 == 0 and width else 2
                self.delta = self.opens - (width - step) if width >= step else self.opens
            self.opens = -1
        width += self.delta
        # 1. A short copy of the first line after the cursor, now followed by the second.
        if self.pending is not None:
            pending, self.pending = self.pending, None
            if stripped == cur.suffix_lines[1]:
                return pending
        # 2. Leaving the block scope (only real lines after the cursor line count).
        brace_w = self.brace_w
        if i > 0:
            self.brace_w = -1
        if i > 0 and width < self.scope_w:
            if stripped == "{" and width == brace_w:
                self.allman = True  # an Allman brace under the line that opened the block
            elif GOES_ON.match(stripped) and self._goes_on(width):
                # `} else {`, `elif …:`, `catch`: the statement the block belongs to goes on
                self.scope_w, self.brace_w = width + 1, width
            elif CLOSING_LINE.match(stripped) and not REOPENS.search(stripped):
                # The clean-up decides whether the closer stays; an Allman `catch`/`else`
                # may follow on the next line, so wait for it when the statement could go on.
                if not (self.allman and cur.block_ends) or GOES_ON.match(stripped):
                    return start + len(raw)
                self.closed = (start + len(raw), width)
                return None
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

    def _goes_on(self, width: int) -> bool:
        """A continuation line at ``width`` carries the statement on (the document has
        nothing more inside the block): right below the block the cursor line opened, or —
        with the cursor inside the block — at least as deep as the document's next line."""
        cur = self.cur
        if not cur.block_ends:
            return False
        if cur.opener_w >= 0:
            return width == cur.opener_w
        return width >= cur.next_w


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


def scope_of(text: str, cur: Cursor, mode: Mode, language: str = "", blocks: bool = True
             ) -> Cursor | None:
    """The cursor whose block scope a cut of ``text`` refers to (None: a single line)."""
    if mode == "multi":
        return None if language == "python" and cur.in_triple else cur
    if not blocks or not is_closing_only(cur.after):
        return None
    nl = text.find("\n")
    start = 0
    while nl >= 0 and not text[start:nl].strip() and cur.after.strip() == "":
        start = nl + 1
        nl = text.find("\n", start)
    if nl < 0 or not text[start:nl].strip():
        return None
    kind, scope, _body = _growth(text, cur, language, start, nl)
    return scope if kind in ("block", "items") else None


def cut(text: str, *, mode: Mode, prefix: str, suffix: str, final: bool = True,
        language: str = "", blocks: bool = True) -> int | None:
    """Index where the suggestion is complete, or None (keep everything / keep reading).

    With ``final=False`` only complete lines are judged, so a cut found while streaming is the
    same cut the final clean-up finds on the whole answer.
    """
    cur = Cursor.of(prefix, suffix)
    if mode == "single":
        return single_cut(text, cur, final, language, blocks)
    return multi_end(text, cur, final, language)


def early_stop(text: str, *, mode: Mode, prefix: str, suffix: str, language: str = "",
               blocks: bool = True) -> int | None:
    """Called on the accumulated streamed text: where to stop, or None to keep reading.

    The scan is linear in the answer (a few comparisons per line, loops looked for in an
    8-line window), and nothing is done at all in multi mode until a line is complete.
    """
    if mode == "multi" and "\n" not in text:
        return None
    return cut(text, mode=mode, prefix=prefix, suffix=suffix, final=False, language=language,
               blocks=blocks)
