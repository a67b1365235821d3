"""Lines, line endings and indentation of a document, and re-indenting model code to fit it.

Offsets are Python string indices; line breaks are the LSP ones (``\\r\\n``, ``\\n``, ``\\r``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import postprocess


def eol_of(text: str) -> str:
    """The document's line break: the first one found (``\\n`` for single-line documents)."""
    m = re.search(r"\r\n|\n|\r", text)
    return m.group(0) if m else "\n"


def to_lf(s: str) -> str:
    """``s`` with every line break as ``\\n`` (what the model sees and answers in)."""
    return s.replace("\r\n", "\n").replace("\r", "\n")


def lines_with_offsets(text: str) -> list[tuple[int, int, int]]:
    """``(start, content_end, next_start)`` per line (LSP line breaks)."""
    out: list[tuple[int, int, int]] = []
    pos = 0
    for m in re.finditer(r"\r\n|\n|\r", text):
        out.append((pos, m.start(), m.end()))
        pos = m.end()
    out.append((pos, len(text), len(text)))
    return out


def line_index(lines: list[tuple[int, int, int]], offset: int) -> int:
    for i, (start, _end, nxt) in enumerate(lines):
        if offset < nxt or i == len(lines) - 1:
            if offset >= start:
                return i
    return len(lines) - 1


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(indent: str, tab: int = 4) -> int:
    w = 0
    for ch in indent:
        w = (w // tab + 1) * tab if ch == "\t" else w + 1
    return w


@dataclass(frozen=True)
class IndentStyle:
    tabs: bool
    unit: int  # columns per level (the tab width when ``tabs``)

    def make(self, width: int) -> str:
        if self.tabs:
            return "\t" * (width // self.unit) + " " * (width % self.unit)
        return " " * width


def detect_indent(text: str) -> IndentStyle:
    """The document's indentation as a style: the same detection as inline completion uses."""
    unit = postprocess.detect_indent(text)
    return IndentStyle(True, 4) if unit == "\t" else IndentStyle(False, len(unit))


def reindent(code: str, *, base: str, style: IndentStyle, first_line_indented: bool = True,
             eol: str = "\n") -> str:
    """Code from the model, placed at ``base`` indentation in the document's style.

    The model's own indentation is normalised (common leading whitespace removed, its levels
    converted to tabs or the document's step) and ``base`` is put in front of every non-blank
    line — except the first when ``first_line_indented`` is False (the text before the range on
    that line already provides it). Line breaks become ``eol``; no trailing line break.
    """
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ""
    lines = [ln.rstrip() for ln in lines]
    widths = [indent_width(indent_of(ln)) for ln in lines]
    nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
    base_w = indent_width(base)
    # A model copying from the file sometimes writes the first line flush left and the rest at
    # their absolute column: take the rest's indentation relative to the base instead.
    if len(nonblank) > 1 and widths[0] == 0 and base_w and \
            min(widths[i] for i in nonblank[1:]) >= base_w + style.unit:
        widths = [widths[0]] + [max(0, w - base_w) for w in widths[1:]]
    common = min(widths[i] for i in nonblank)
    model_unit = _model_unit([widths[i] - common for i in nonblank])
    out: list[str] = []
    for i, ln in enumerate(lines):
        body = ln.lstrip(" \t")
        if not body:
            out.append("")
            continue
        rel = widths[i] - common
        levels, rest = divmod(rel, model_unit)
        ind = style.make(levels * style.unit + rest)
        prefix = base if (i > 0 or first_line_indented) else ""
        out.append(prefix + ind + body)
    return eol.join(out)


def _model_unit(widths: list[int]) -> int:
    """The model's indentation step: the smallest positive relative indentation (default 4)."""
    positive = [w for w in widths if w > 0]
    return min(positive) if positive and min(positive) in (2, 3, 4, 8) else 4

