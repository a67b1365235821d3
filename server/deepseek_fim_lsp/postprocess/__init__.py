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

This module holds the mode choice, the clean-up steps and :func:`clean`; the line scan behind
:func:`cut` / :func:`early_stop` lives in :mod:`.cut` and the low-level reading of code
(indentation, brackets, the cursor's surroundings, :func:`detect_indent`) in :mod:`.text`.
Both are re-exported here: import from ``postprocess``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .cut import Mode, cut, early_stop, multi_cut, single_cut
from .text import (
    CLOSERS,
    OPENERS,
    WORD,
    Cursor,
    closing_run,
    detect_indent,
    doc_crlf,
    excess_closers,
    indent_evidence,
    is_closing_only,
    leading_ws,
    net_brackets,
    open_brackets_before,
    space_unit,
)

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
    "open_brackets_before",
    "reindent",
    "resolve_cursor_line_overlap",
    "trim_whitespace",
]


@dataclass(frozen=True)
class Suggestion:
    """Text to insert at the cursor, replacing ``replace`` characters right after it."""

    text: str
    replace: int = 0


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
    cur = Cursor.of(prefix, suffix)
    if not is_closing_only(cur.after):
        return "single"
    if cur.before.strip() == "" or cur.opener:
        return "multi"
    return "single"


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
    score = abs(net_brackets(line) - net_brackets(original))
    for q in "\"`":
        score += (line.count(q) - original.count(q)) % 2
    return score


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
    if rest.strip() and not is_closing_only(rest) and core.endswith(rest.strip()):
        text = core[: len(core) - len(rest.strip())]
        if rest[:1] in " \t":
            text = text.rstrip(" \t")
    run = closing_run(after)
    original = before + after
    while True:
        options = [_overlap(text, run), _retyped(text, rest), 0]
        # the most balanced reading; on a tie, the one that replaces more
        best = min(options, key=lambda o: (_imbalance(before + text + after[o:], original), -o))
        still_open = open_brackets - excess_closers(after[best:])
        if excess_closers(text) > max(0, still_open) and text[-1:] in CLOSERS:
            text = text[:-1]
            if "\n" in text[len(text.rstrip()) :]:
                text = text.rstrip()  # never leave a dangling line break
            continue
        return Suggestion(text=text, replace=best)


def reindent(text: str, *, before: str, doc_unit: str) -> str:
    """Re-indent continuation lines to the document's unit (the cursor line is left alone).

    Tab documents: leading spaces become tabs using the model's space step. Space documents:
    tabs become the unit; a model answering in 4 spaces for a 2-space file (measured relative
    to the cursor line's indentation) is rescaled.
    """
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    body = [(i, leading_ws(ln)) for i, ln in enumerate(lines) if i > 0 and ln.strip()]
    if doc_unit == "\t":
        step = space_unit([ws.count(" ") for _, ws in body if " " in ws])
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
    # The cursor line as it will be: at column 0 the answer brings its own indentation.
    base = len(leading_ws(before + lines[0]).replace("\t", doc_unit))
    widths = [len(leading_ws(lines[i])) for i, _ in body]
    deltas = [w - base for w in widths if w > base]
    if deltas:
        step = min(deltas)
        plausible = step in (2, 4, 8) and n in (2, 4, 8)
        if step != n and plausible and all(d % step == 0 for d in deltas):
            for i, _ in body:
                ws = leading_ws(lines[i])
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
    if WORD.search(previous) and all(ln == previous for ln in new):
        return True  # (a lone `}` after a `}` closes the next block out: not a copy)
    return bool(suffix_lines) and new == list(suffix_lines[: len(new)])


def clean(raw: str, *, prefix: str, suffix: str, mode: Mode) -> Suggestion | None:
    """Raw model output → the suggestion to show, or None when nothing useful remains."""
    if not raw.strip():
        return None
    cur = Cursor.of(prefix, suffix)
    end = (single_cut if mode == "single" else multi_cut)(raw, cur, True)
    text = raw if end is None else raw[:end]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    real_after = cur.after.strip() != "" and not is_closing_only(cur.after)
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
    unit, evidence = indent_evidence(window)
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
            closer = OPENERS.get(cur.before.rstrip()[-1:], "")
            if closer and cur.after.lstrip().startswith(closer):
                # `{|}` + a body: put the existing closer on its own line.
                s = Suggestion(s.text + "\n" + leading_ws(cur.before))
    useless = is_useless(
        s, before=cur.before, after=cur.after, context=cur.context, suffix_lines=cur.suffix_lines
    )
    if useless:
        return None
    if doc_crlf(prefix, suffix):
        s = Suggestion(s.text.replace("\n", "\r\n"), s.replace)
    return s
