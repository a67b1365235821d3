"""Turn a raw fill-in-the-middle answer into a clean suggestion, and decide when to stop streaming.

Everything here is pure (no I/O, no LSP) and works on Python string offsets. A suggestion is
applied as ``prefix + s.text + suffix[s.replace:]``.

The pipeline in :func:`clean` is a composition of small steps, each its own function:

1. :func:`cut` — where the suggestion ends: the first line end (single mode) or the end of the
   block scope / the start of a loop / the start of a copy of the suffix (multi mode). The same
   function drives :func:`early_stop`, so stopping the stream early never changes the answer.
2. :func:`trim_whitespace` — trailing blanks per line, no dangling newline + indentation.
3. :func:`drop_suffix_tail` — lines at the end that repeat the lines after the cursor.
4. :func:`resolve_cursor_line_overlap` — never insert what already follows the cursor on its line
   (closing brackets/quotes are *replaced*, real text is stripped), brackets stay balanced.
5. :func:`reindent` — the document's tabs/spaces and indentation width.
6. :func:`is_useless` — nothing left, or only a copy of the previous line / the suffix.
7. line endings back to the document's (CRLF documents get ``\\r\\n``).

Decisions worth knowing:

- Single mode keeps reading past a leading line break when the rest of the cursor line is
  blank (``x = 1|`` + ``\\ny = 2`` suggests the next line); with text after the cursor a line
  break would split that line, so the suggestion ends there (empty).
- A suggestion never ends with a line break plus indentation — except when the cursor sits at
  the start of a line before existing text and the model answers whole lines ending with a line
  break: then it ends with the line break and the cursor line's indentation, so the existing
  text stays on its own line, indented as before.
- A closing line (``}``, ``)``, ``end``) that ends the block is kept only when the document
  neither goes on inside the block nor closes it itself. ``} else {`` / ``else:`` /
  ``except …:`` lines at the level of the block the cursor opened carry the statement on when
  the document has nothing more inside that block; otherwise they end the suggestion.
- Streaming and the final clean-up share one line scan, so stopping early never changes the
  answer; the scan is resumable, so each streamed chunk costs only its new lines.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

Mode = Literal["single", "multi"]
MultilineSetting = Literal["auto", "always", "never"]

__all__ = [
    "Mode",
    "MultilineSetting",
    "Suggestion",
    "choose_mode",
    "clean",
    "cut",
    "detect_indent",
    "drop_suffix_tail",
    "early_stop",
    "is_useless",
    "reindent",
    "resolve_cursor_line_overlap",
    "trim_whitespace",
]


@dataclass(frozen=True)
class Suggestion:
    """Text to insert at the cursor, replacing ``replace`` characters right after it."""

    text: str
    replace: int = 0


# What may follow the cursor without counting as "real text" on the line: closing brackets and
# quotes, then punctuation (`)`, `");`, `},`, `]):`).
_CLOSING_RUN = re.compile(r"[)\]}>\"'`]*[;,.:]*")
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_BLOCK_OPENER = re.compile(
    r"(?:[:{(\[]|=>|->|\bdo(?:\s*\|[^|]*\|)?|\bthen|\bbegin|\belse|\brepeat)\s*$"
)
_CLOSING_LINE = re.compile(r"^(?:[)\]}]|(?:end|fi|done|esac|until)\b)")
_REOPENS = re.compile(r"(?:[{(\[:]|\bdo|\bthen|\belse)\s*$")
# Lines at the opener's level that carry the same statement on (`} else {`, `else:`, `except`).
_GOES_ON = re.compile(r"^(?:[)\]}]\s*)?(?:else|elif|elsif|except|finally|catch|rescue|ensure)\b")
_WORD = re.compile(r"\w")
_BRACKETS = re.compile(r"[^()\[\]{}]+")
_LOOP_MAX_BLOCK = 8
_CONTEXT_LINES = 8
_SUFFIX_LINES = 3
_LONG_LINE = 12


def _width(ws: str) -> int:
    """Visual width of leading whitespace; a tab counts 4 (only used to compare depths)."""
    return sum(4 if c == "\t" else 1 for c in ws)


def _leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _is_closing_only(rest: str) -> bool:
    """True when ``rest`` is blank or only closing brackets, quotes and punctuation."""
    return _CLOSING_RUN.fullmatch(rest.strip()) is not None


def _opens_block(line: str) -> bool:
    stripped = line.rstrip()
    return bool(stripped) and _BLOCK_OPENER.search(stripped) is not None


@dataclass(frozen=True)
class _Cursor:
    """What the surrounding document tells us, computed once per call."""

    before: str  # cursor line, text before the cursor
    after: str  # cursor line, text after the cursor (no line break)
    opener: bool  # the cursor line opens a block
    scope_w: int  # lines narrower than this leave the scope (multi mode)
    suffix_lines: tuple[str, ...]  # first non-blank lines after the cursor line, stripped
    keep_closer: bool  # a closing line that ends the scope belongs in the suggestion
    opener_w: int  # indentation width of the cursor line when it opens a block, else -1
    block_ends: bool  # the document has nothing more inside the scope after the cursor
    context: tuple[str, ...]  # last non-blank full lines before the cursor line (rstripped)

    @staticmethod
    @functools.lru_cache(maxsize=16)
    def of(prefix: str, suffix: str) -> _Cursor:
        """Cached: while streaming, every chunk asks again about the same prefix/suffix
        objects (their hashes are cached by Python, so a hit costs next to nothing)."""
        before = prefix[prefix.rfind("\n") + 1 :]
        nl = suffix.find("\n")
        after = (suffix if nl < 0 else suffix[:nl]).rstrip("\r")
        opener = _opens_block(before)
        base = _width(_leading_ws(before))
        if before.strip() == "":
            scope_w = _width(before)
        elif opener:
            scope_w = base + 1
        else:
            scope_w = base
        following: list[str] = []
        first_w = -1
        first_line = ""
        if nl >= 0:
            for raw in suffix[nl + 1 : nl + 1 + 4000].split("\n"):
                line = raw.rstrip("\r")
                if not line.strip():
                    continue
                if first_w < 0:
                    first_w = _width(_leading_ws(line))
                    first_line = line.strip()
                following.append(line.strip())
                if len(following) >= _SUFFIX_LINES:
                    break
        # The model's closing line is wanted only when the document does not go on inside the
        # scope and does not close it itself: at the end of the file, or before a dedented
        # line that is not a closer (the next function, say).
        block_ends = first_w < scope_w
        keep_closer = block_ends and _CLOSING_LINE.match(first_line) is None
        start = max(0, len(prefix) - len(before) - 4000)
        earlier = [
            ln.rstrip()
            for ln in prefix[start : len(prefix) - len(before)].split("\n")
            if ln.strip()
        ]
        return _Cursor(
            before=before,
            after=after,
            opener=opener,
            scope_w=scope_w,
            suffix_lines=tuple(following),
            keep_closer=keep_closer,
            opener_w=base if opener else -1,
            block_ends=block_ends,
            context=tuple(earlier[-_CONTEXT_LINES:]),
        )


# --------------------------------------------------------------------------------------------
# Mode


def choose_mode(prefix: str, suffix: str, setting: MultilineSetting) -> Mode:
    """Pick single- or multi-line completion for this cursor position.

    ``auto`` gives ``multi`` when nothing but closing characters follows the cursor and the
    cursor line is blank or opens a block (``:``, ``{``, ``(``, ``=>``, ``do``, ``then``, …);
    otherwise ``single``: finishing the current line is what the user is doing.
    """
    if setting == "always":
        return "multi"
    if setting == "never":
        return "single"
    cur = _Cursor.of(prefix, suffix)
    if not _is_closing_only(cur.after):
        return "single"
    if cur.before.strip() == "" or cur.opener:
        return "multi"
    return "single"


# --------------------------------------------------------------------------------------------
# Where the suggestion ends (shared by streaming and the final clean-up)


def _single_cut(text: str, cur: _Cursor, final: bool) -> int | None:
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


class _Scan:
    """The multi-mode scan: a left-to-right fold over complete lines, resumable.

    A cut before line ``i`` is the offset of the line break that ends line ``i - 1`` (0 for the
    first line), so cuts need no list of line positions and the scan can stop after any line
    and go on later from there.
    """

    def __init__(self, cur: _Cursor) -> None:
        self.cur = cur
        self.pos = 0  # where the next line starts
        self.index = 0  # number of the next line (0 = the rest of the cursor line)
        self.result: int | None = None  # the cut, once found
        self.seq: list[str] = list(cur.context)  # recent non-blank full lines, for loops
        self.seq_cut: list[int] = [-1] * len(self.seq)  # cut before that line (-1: prefix)
        self.pending: int | None = None  # cut before a short copy of the first suffix line

    def run(self, text: str, final: bool) -> int | None:
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
        width = _width(_leading_ws(line))
        if i > 0 and width < cur.scope_w:
            goes_on = _GOES_ON.match(stripped) is not None and _REOPENS.search(stripped)
            if goes_on and cur.block_ends and width == cur.opener_w:
                pass  # `} else {` right below the block the cursor opened: the if/else goes on
            elif _CLOSING_LINE.match(stripped) and not _REOPENS.search(stripped):
                return start + len(raw) if cur.keep_closer else here
            else:
                return here
        # 3. The model starts writing the lines that follow the cursor.
        whole_line = i > 0 or not cur.before.strip()
        if whole_line and cur.suffix_lines and stripped == cur.suffix_lines[0]:
            if _WORD.search(stripped):
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
_PAUSED: list[tuple[str, _Scan]] = []
_PAUSED_MAX = 8


def _multi_cut(text: str, cur: _Cursor, final: bool) -> int | None:
    if final:
        return _Scan(cur).run(text, True)
    scan = None
    for n, (seen, paused) in enumerate(_PAUSED):
        if paused.cur is cur and text.startswith(seen):
            scan = paused
            del _PAUSED[n]
            break
    if scan is None:
        scan = _Scan(cur)
    result = scan.run(text, False)
    _PAUSED.insert(0, (text[: scan.pos], scan))
    del _PAUSED[_PAUSED_MAX:]
    return result


def _loop_start(seq: list[str]) -> int | None:
    """Index in ``seq`` where a repetition ending at the last entry starts being redundant."""
    n = len(seq)
    last = seq[-1]
    if n >= 3 and seq[-2] == last and seq[-3] == last and _WORD.search(last):
        return n - 2  # keep one copy
    for k in range(2, _LOOP_MAX_BLOCK + 1):
        if 2 * k > n:
            break
        if seq[n - k :] == seq[n - 2 * k : n - k] and any(_WORD.search(x) for x in seq[n - k :]):
            return n - k
    return None


def cut(text: str, *, mode: Mode, prefix: str, suffix: str, final: bool = True) -> int | None:
    """Index where the suggestion is complete, or None (keep everything / keep reading).

    With ``final=False`` only complete lines are judged, so a cut found while streaming is the
    same cut the final clean-up finds on the whole answer.
    """
    cur = _Cursor.of(prefix, suffix)
    if mode == "single":
        return _single_cut(text, cur, final)
    return _multi_cut(text, cur, final)


def early_stop(text: str, *, mode: Mode, prefix: str, suffix: str) -> int | None:
    """Called on the accumulated streamed text: where to stop, or None to keep reading.

    The scan is linear in the answer (a few comparisons per line, loops looked for in an
    8-line window), and nothing is done at all in multi mode until a line is complete.
    """
    if mode == "multi" and "\n" not in text:
        return None
    return cut(text, mode=mode, prefix=prefix, suffix=suffix, final=False)


# --------------------------------------------------------------------------------------------
# Clean-up steps


def trim_whitespace(text: str, *, keep_trailing_space: bool = False) -> str:
    """Trailing blanks off every line, trailing blank lines off the end.

    ``keep_trailing_space`` keeps spaces at the very end (they separate the suggestion from
    real text that follows the cursor, as in ``foo(x, |y)``).
    """
    raw_lines = text.split("\n")
    lines = [ln.rstrip() for ln in raw_lines]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    if keep_trailing_space and len(lines) == len(raw_lines) and lines[-1]:
        lines[-1] = raw_lines[-1].rstrip("\r")
    return "\n".join(lines)


def drop_suffix_tail(text: str, *, before: str, suffix_lines: tuple[str, ...]) -> str:
    """Drop lines at the end of ``text`` that equal the first non-blank lines after the cursor."""
    lines = text.split("\n")
    full = [(before + lines[0]).strip()] + [ln.strip() for ln in lines[1:]]
    idx = [i for i, ln in enumerate(full) if ln]
    if before.strip():
        idx = [i for i in idx if i > 0]  # never drop part of the cursor line
    for k in range(min(len(idx), len(suffix_lines)), 0, -1):
        tail = [full[i] for i in idx[-k:]]
        if tail == list(suffix_lines[:k]):
            first = idx[-k]
            return "\n".join(lines[:first]).rstrip() if first > 0 else ""
    return text


def _imbalance(line: str, original: str) -> int:
    """How far ``line`` is from ``original`` in bracket depth and in quote parity."""
    score = abs(_net(line) - _net(original))
    for q in "\"`":
        score += (line.count(q) - original.count(q)) % 2
    return score


def _net(text: str) -> int:
    """Openers minus closers (round, square and curly brackets)."""
    return sum(1 for c in text if c in _OPENERS) - sum(1 for c in text if c in _CLOSERS)


def _closing_run(after: str) -> str:
    """The closing characters right after the cursor (``")`` in ``|"); x``)."""
    m = _CLOSING_RUN.match(after)
    return m.group(0) if m else ""


def _is_subsequence(needle: str, hay: str) -> bool:
    it = iter(hay)
    return all(c in it for c in needle)


def _overlap(text: str, run: str) -> int:
    """How many of the closing characters after the cursor the suggestion types again.

    The longest start ``run[:k]`` whose last character ends the suggestion and whose
    characters all appear in it in order: ``", total);`` re-types all of ``");``.
    """
    for k in range(len(run), 0, -1):
        if text.endswith(run[k - 1]) and _is_subsequence(run[:k], text):
            return k
    return 0


def _retyped(text: str, rest: str) -> int:
    """``len(rest)`` when the suggestion types the rest of the line again around its own text.

    ``printf("|\\n");`` + ``%d\\n", v);`` re-types all of ``\\n");``.
    """
    if not rest or len(rest) > 40 or "\n" in text:
        return 0
    if text.endswith(rest[-1]) and _is_subsequence(rest, text):
        return len(rest)
    return 0


def _excess_closers(text: str) -> int:
    """Closing brackets in ``text`` that no opener in ``text`` matches."""
    depth = excess = 0
    for c in _BRACKETS.sub("", text):
        if c in _OPENERS:
            depth += 1
        elif depth:
            depth -= 1
        else:
            excess += 1
    return excess


def open_brackets_before(prefix: str) -> int:
    """Brackets opened in ``prefix`` and not closed yet (unmatched closers are ignored)."""
    depth = 0
    for c in _BRACKETS.sub("", prefix):
        depth = depth + 1 if c in _OPENERS else max(0, depth - 1)
    return depth


def resolve_cursor_line_overlap(
    text: str, *, before: str, after: str, open_brackets: int | None = None
) -> Suggestion:
    """Never insert what already follows the cursor on its line; keep brackets balanced.

    - real text after the cursor that the suggestion ends with is stripped
      (``foo(|, b)`` + ``a, b)`` → ``a``);
    - closing characters after the cursor that the suggestion types again are replaced
      (``foo(|)`` + ``a, b)`` → text ``a, b)``, replace 1);
    - the same when the suggestion re-types the whole rest of the line around its own text
      (``printf("|\\n");`` + ``%d\\n", v);`` replaces ``\\n");``);
    - of the readings (replace or not) the one whose brackets and quotes balance like the
      original line wins (``print(|)`` + ``len(x)`` is not a replacement), and surplus closers
      at the end of the suggestion are dropped (``foo(|)`` + ``a))`` → ``a)``, replace 1):
      a suggestion may close at most the ``open_brackets`` still open before the cursor (by
      default those of the cursor line) minus those the rest of the line closes.
    """
    if open_brackets is None:
        open_brackets = open_brackets_before(before)
    rest = after.rstrip()
    core = text.rstrip()
    if rest.strip() and not _is_closing_only(rest) and core.endswith(rest.strip()):
        text = core[: len(core) - len(rest.strip())]
        if rest[:1] in " \t":
            text = text.rstrip(" \t")
    run = _closing_run(after)
    original = before + after
    while True:
        options = [_overlap(text, run), _retyped(text, rest), 0]
        # the most balanced reading; on a tie, the one that replaces more
        best = min(options, key=lambda o: (_imbalance(before + text + after[o:], original), -o))
        still_open = open_brackets - _excess_closers(after[best:])
        if _excess_closers(text) > max(0, still_open) and text[-1:] in _CLOSERS:
            text = text[:-1]
            if "\n" in text[len(text.rstrip()) :]:
                text = text.rstrip()  # never leave a dangling line break
            continue
        return Suggestion(text=text, replace=best)


def _space_unit(widths: list[int]) -> int | None:
    g = 0
    for w in widths:
        g = math.gcd(g, w)
    if g == 0:
        return None
    if g % 4 == 0:
        return 4
    if g % 2 == 0:
        return 2
    return None


def _indent_evidence(text: str) -> tuple[str, int]:
    """(unit, how many lines support it); unit is ``"\\t"`` or spaces."""
    tabs = 0
    deltas: Counter[int] = Counter()
    prev = 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        ws = _leading_ws(line)
        if ws.startswith("\t"):
            tabs += 1
            continue
        if "\t" in ws:
            continue
        w = len(ws)
        d = abs(w - prev)
        if 2 <= d <= 8:
            deltas[d] += 1
        prev = w
    spaces = sum(deltas.values())
    if tabs > spaces:
        return "\t", tabs
    if not deltas:
        return "    ", 0
    best = max(deltas.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    return " " * best, deltas[best]


def detect_indent(text: str) -> str:
    """The indentation unit of ``text``: ``"\\t"`` or n spaces; 4 spaces when unclear."""
    return _indent_evidence(text)[0]


def reindent(text: str, *, before: str, doc_unit: str) -> str:
    """Re-indent continuation lines to the document's unit (the cursor line is left alone).

    Tab documents: leading spaces become tabs using the model's space step. Space documents:
    tabs become the unit; a model answering in 4 spaces for a 2-space file (measured relative
    to the cursor line's indentation) is rescaled.
    """
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    body = [(i, _leading_ws(ln)) for i, ln in enumerate(lines) if i > 0 and ln.strip()]
    if doc_unit == "\t":
        step = _space_unit([ws.count(" ") for _, ws in body if " " in ws])
        if step is None:
            return text
        for i, ws in body:
            if " " in ws:
                w = ws.count("\t") * step + ws.count(" ")
                lines[i] = "\t" * (w // step) + " " * (w % step) + lines[i][len(ws) :]
        return "\n".join(lines)
    n = len(doc_unit)
    for i, ws in body:
        if "\t" in ws:
            lines[i] = ws.replace("\t", doc_unit) + lines[i][len(ws) :]
    base = len(_leading_ws(before).replace("\t", doc_unit))
    widths = [len(_leading_ws(lines[i])) for i, _ in body]
    deltas = [w - base for w in widths if w > base]
    if deltas:
        step = min(deltas)
        plausible = step in (2, 4, 8) and n in (2, 4, 8)
        if step != n and plausible and all(d % step == 0 for d in deltas):
            for i, _ in body:
                ws = _leading_ws(lines[i])
                d = len(ws) - base
                if d > 0:
                    lines[i] = " " * (base + (d // step) * n) + lines[i][len(ws) :]
    return "\n".join(lines)


def is_useless(
    s: Suggestion,
    *,
    before: str,
    after: str,
    context: tuple[str, ...],
    suffix_lines: tuple[str, ...],
) -> bool:
    """Nothing to insert, or only what is already there (the previous line, the suffix)."""
    if not s.text.strip() or s.text == after[: s.replace]:
        return True
    lines = s.text.split("\n")
    if len(lines) > 1 and not lines[0].strip():
        new = [ln.strip() for ln in lines[1:] if ln.strip()]  # only whole new lines
        previous = before.strip() or (context[-1].strip() if context else "")
    elif before.strip():
        return False  # it completes the cursor line
    else:
        new = [ln.strip() for ln in lines if ln.strip()]
        previous = context[-1].strip() if context else ""
    if _WORD.search(previous) and all(ln == previous for ln in new):
        return True  # (a lone `}` after a `}` closes the next block out: not a copy)
    return bool(suffix_lines) and new == list(suffix_lines[: len(new)])


def _doc_crlf(prefix: str, suffix: str) -> bool:
    nl = prefix.rfind("\n")
    if nl >= 0:
        return nl > 0 and prefix[nl - 1] == "\r"
    nl = suffix.find("\n")
    return nl > 0 and suffix[nl - 1] == "\r"


def clean(raw: str, *, prefix: str, suffix: str, mode: Mode) -> Suggestion | None:
    """Raw model output → the suggestion to show, or None when nothing useful remains."""
    if not raw.strip():
        return None
    cur = _Cursor.of(prefix, suffix)
    end = (_single_cut if mode == "single" else _multi_cut)(raw, cur, True)
    text = raw if end is None else raw[:end]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    real_after = cur.after.strip() != "" and not _is_closing_only(cur.after)
    # Cursor before existing text at the start of a line, answer ends with a line break:
    # the answer is whole lines inserted above that text.
    line_break = (
        cur.before.strip() == ""
        and cur.after.strip() != ""
        and re.search(r"\S[ \t]*\n[ \t]*$", text) is not None
    )
    text = trim_whitespace(text, keep_trailing_space=real_after and not line_break)
    text = drop_suffix_tail(text, before=cur.before, suffix_lines=cur.suffix_lines)
    if not text.strip():
        return None
    window = prefix[-6000:] + suffix[:3000]
    unit, evidence = _indent_evidence(window)
    if evidence == 0 and cur.before.startswith("\t") and not cur.before.strip():
        unit, evidence = "\t", 1  # a tab-indented cursor line is evidence enough
    if evidence > 0:
        text = reindent(text, before=cur.before, doc_unit=unit)
    if line_break:
        s = Suggestion(text + "\n" + cur.before)
    else:
        s = resolve_cursor_line_overlap(
            text, before=cur.before, after=cur.after, open_brackets=open_brackets_before(prefix)
        )
        if "\n" in s.text and s.replace == 0 and cur.opener:
            closer = _OPENERS.get(cur.before.rstrip()[-1:], "")
            if closer and cur.after.lstrip().startswith(closer):
                # `{|}` + a body: put the existing closer on its own line.
                s = Suggestion(s.text + "\n" + _leading_ws(cur.before))
    useless = is_useless(
        s, before=cur.before, after=cur.after, context=cur.context, suffix_lines=cur.suffix_lines
    )
    if useless:
        return None
    if _doc_crlf(prefix, suffix):
        s = Suggestion(s.text.replace("\n", "\r\n"), s.replace)
    return s
