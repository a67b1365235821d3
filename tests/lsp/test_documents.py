"""Incremental sync and position conversion against a simple reference implementation."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_fim_lsp.lsp.documents import Document, PositionError, line_starts

ALPHABET = st.sampled_from(list("ab \t") + ["\n", "\r\n", "\r", "😀", "é", "\u2028", "\x0c", "中"])
texts = st.lists(ALPHABET, max_size=40).map("".join)


def ref_lines(text: str) -> list[str]:
    """Lines as LSP sees them: split on \\r\\n, \\r, \\n only, keeping the breaks."""
    parts = re.split(r"(\r\n|\r|\n)", text)
    lines = ["".join(parts[i:i + 2]) for i in range(0, len(parts), 2)]
    return lines


def ref_offset(text: str, line: int, character: int, encoding: str) -> int:
    lines = ref_lines(text)
    before = sum(len(x) for x in lines[:line])
    content = lines[line].rstrip("\r\n")
    units = 0
    for i, ch in enumerate(content):
        width = {"utf-16": 2 if ord(ch) > 0xFFFF else 1, "utf-8": len(ch.encode()),
                 "utf-32": 1}[encoding]
        if units + width > character:
            return before + i
        units += width
    return before + len(content)


def test_line_starts_only_break_on_lsp_line_endings() -> None:
    text = "a\u2028b\x0cc\r\nd\re\nf"
    assert line_starts(text) == [0, 7, 9, 11]
    assert line_starts("x\n") == [0, 2]  # the empty last line counts
    assert [text[s:] [:1] for s in line_starts(text)] == ["a", "d", "e", "f"]


@given(texts, st.data())
@settings(max_examples=300, deadline=None)
def test_offset_and_position_round_trip(text: str, data: st.DataObject) -> None:
    doc = Document("file:///t", text)
    encoding = data.draw(st.sampled_from(["utf-16", "utf-8", "utf-32"]))
    nlines = len(ref_lines(text))
    line = data.draw(st.integers(0, nlines - 1))
    character = data.draw(st.integers(0, 12))
    offset = doc.offset_at(line, character, encoding)
    assert offset == ref_offset(text, line, character, encoding)
    back_line, back_char = doc.position_at(offset, encoding)
    assert back_line == line
    assert doc.offset_at(back_line, back_char, encoding) == offset


@given(texts, st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8), texts), max_size=8))
@settings(max_examples=300, deadline=None)
def test_incremental_edits_match_a_full_recompute(
        text: str, edits: list[tuple[int, int, str]]) -> None:
    doc = Document("file:///t", text)
    _ = doc.starts  # build the index so edits update it incrementally
    expected = text
    for at, length, new in edits:
        start = min(at, len(expected))
        end = min(start + length, len(expected))
        expected = expected[:start] + new + expected[end:]
        doc.apply_change(start, end, new)
        assert doc.text == expected
        assert doc.starts == line_starts(expected)


def test_positions_out_of_range() -> None:
    doc = Document("file:///t", "ab\ncd")
    with pytest.raises(PositionError):
        doc.offset_at(5, 0)
    with pytest.raises(PositionError):
        doc.offset_at(-1, 0)
    assert doc.offset_at(0, 99) == 2  # past the line end means the line end (LSP rule)


def test_inside_a_surrogate_pair_snaps_to_the_character_start() -> None:
    doc = Document("file:///t", "😀x")
    assert doc.offset_at(0, 1, "utf-16") == 0
    assert doc.offset_at(0, 2, "utf-16") == 1
    assert doc.position_at(1, "utf-16") == (0, 2)
    assert doc.position_at(1, "utf-8") == (0, 4)
