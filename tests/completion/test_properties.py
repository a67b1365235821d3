"""Properties that must hold for any input: type-through never answers wrongly, and the document
model stays exact through any mix of full replacements and incremental edits."""

from __future__ import annotations

import asyncio

from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st

from deepseek_fim_lsp.completion.cache import _GUARD, TypeThrough
from deepseek_fim_lsp.completion.engine import Engine
from deepseek_fim_lsp.completion.types import CompletionRequest
from deepseek_fim_lsp.config import Settings
from deepseek_fim_lsp.lsp.documents import Document, line_starts
from deepseek_fim_lsp.postprocess import Suggestion
from fake_backends import ScriptedBackend

URI = "file:///p.py"
CHARS = st.sampled_from(list("ab( )=:x_1\t") + ["\n", "\r\n", "é", "😀"])
texts = st.lists(CHARS, max_size=30).map("".join)
suggestions = st.lists(CHARS, min_size=1, max_size=20).map("".join).filter(lambda s: s.strip())
FAST = settings(max_examples=150, deadline=None)


def shown(text: str, offset: int, suggestion: str, replace: int = 0) -> TypeThrough:
    tt = TypeThrough()
    tt.remember(URI, text, offset, (Suggestion(suggestion, replace),))
    return tt


def oracle(old: str, o: int, suggestion: str, new: str, cursor: int) -> str | None:
    """The only remainder that may be served for (new, cursor): None when there is none."""
    typed = new[o:cursor]
    if cursor <= o or new[:o] != old[:o] or new[cursor:] != old[o:]:
        return None
    if not suggestion.startswith(typed) or not suggestion[len(typed):].strip():
        return None
    return suggestion[len(typed):]


@given(texts, st.data(), suggestions, st.integers(0, 3))
@FAST
def test_typing_the_suggestion_serves_exactly_the_rest(text: str, data: st.DataObject,
                                                       suggestion: str, replace: int) -> None:
    o = data.draw(st.integers(0, len(text)))
    k = data.draw(st.integers(1, len(suggestion)))
    tt = shown(text, o, suggestion, replace)
    new = text[:o] + suggestion[:k] + text[o:]
    got = tt.lookup(URI, new, o + k)
    rest = suggestion[k:]
    if rest.strip():
        assert got == (Suggestion(rest, replace),)
    else:
        assert got is None  # used up (or only whitespace left): ask again


@given(texts, st.data(), suggestions, st.lists(CHARS, min_size=1, max_size=6).map("".join))
@FAST
def test_diverging_input_gets_no_answer(text: str, data: st.DataObject, suggestion: str,
                                        typed: str) -> None:
    assume(not suggestion.startswith(typed))
    o = data.draw(st.integers(0, len(text)))
    tt = shown(text, o, suggestion)
    assert tt.lookup(URI, text[:o] + typed + text[o:], o + len(typed)) is None


edits = st.lists(st.tuples(st.sampled_from(["type", "type", "backspace", "insert", "delete"]),
                           st.integers(0, 60), st.integers(1, 4), texts),
                 min_size=1, max_size=8)


@given(texts, st.data(), suggestions, edits)
@settings(max_examples=300, deadline=None)
def test_no_false_answer_after_any_edits(text: str, data: st.DataObject, suggestion: str,
                                         ops: list[tuple[str, int, int, str]]) -> None:
    """Typing (mostly the suggestion), backspaces, inserts and deletions anywhere: an answer,
    if any, is the oracle's."""
    o = data.draw(st.integers(0, len(text)))
    tt = shown(text, o, suggestion)
    new, cursor = text, o
    for kind, at, length, insert in ops:
        at = min(at, len(new))
        if kind == "type":  # the next character of the suggestion, or a stray one
            typed = len(new) - len(text)
            ch = suggestion[typed] if 0 <= typed < len(suggestion) and at % 4 else "x"
            new, cursor = new[:cursor] + ch + new[cursor:], cursor + 1
        elif kind == "backspace":
            if cursor:
                new, cursor = new[:cursor - 1] + new[cursor:], cursor - 1
        elif kind == "insert":
            new = new[:at] + insert + new[at:]
            cursor = cursor + len(insert) if at <= cursor else cursor
        else:  # delete `length` characters before `at`
            start = max(0, at - length)
            new = new[:start] + new[at:]
            cursor = start if start <= cursor <= at else \
                cursor - (at - start) if cursor > at else cursor
        got = tt.lookup(URI, new, cursor)
        want = oracle(text, o, suggestion, new, cursor)
        event("answered" if got is not None else "no answer")
        if got is not None:
            assert want is not None, (new, cursor)
            assert got == (Suggestion(want, 0),)
        elif len(new) - len(text) == cursor - o and new[:o] == text[:o] \
                and new[cursor:] == text[o:]:
            assert want is None  # and no answer is missed when typing is pure


@given(texts, suggestions, st.data())
@FAST
def test_backspace_while_typing_through(text: str, suggestion: str, data: st.DataObject) -> None:
    """Typing part of a suggestion then backspacing: each state gets the right rest or nothing."""
    o = data.draw(st.integers(0, len(text)))
    tt = shown(text, o, suggestion)
    k = data.draw(st.integers(1, len(suggestion)))
    for j in range(k, -2, -1):  # j == -1: one backspace past where the suggestion started
        if j >= 0:
            new, cursor = text[:o] + suggestion[:j] + text[o:], o + j
        else:
            if o == 0:
                break
            new, cursor = text[:o - 1] + text[o:], o - 1
        got = tt.lookup(URI, new, cursor)
        rest = suggestion[j:] if j >= 1 else ""
        assert got == ((Suggestion(rest, 0),) if rest.strip() else None)


@given(suggestions, st.data())
@settings(max_examples=60, deadline=None)
def test_edits_far_from_the_cursor_do_not_matter(suggestion: str, data: st.DataObject) -> None:
    """Beyond the guard window, a same-length edit (another cursor, a formatter) is ignored."""
    far = _GUARD + 50
    text = "".join(chr(0x61 + i % 26) for i in range(far)) + "value = \n" + "z" * far
    o = far + len("value = ")
    tt = shown(text, o, suggestion)
    k = data.draw(st.integers(1, len(suggestion)))
    typed_text = text[:o] + suggestion[:k] + text[o:]
    where = data.draw(st.sampled_from(["start", "end"]))
    n = data.draw(st.integers(1, 40))
    if where == "start":
        edited = "#" * n + typed_text[n:]
    else:
        edited = typed_text[:-n - 1] + "#" * n + typed_text[-1]
    got = tt.lookup(URI, edited, o + k)
    rest = suggestion[k:]
    assert got == ((Suggestion(rest, 0),) if rest.strip() else None)
    # Close to the cursor the same edit is noticed.
    near = typed_text[:o - 3] + "###" + typed_text[o:]
    assert tt.lookup(URI, near, o + k) is None


# --- the document model -----------------------------------------------------------------------

DOC_CHARS = st.sampled_from(list("ab ") + ["\n", "\r\n", "\r", "😀", "é", "\u2028"])
doc_texts = st.lists(DOC_CHARS, max_size=30).map("".join)
doc_ops = st.lists(st.one_of(
    st.tuples(st.just("replace"), doc_texts),
    st.tuples(st.just("edit"), st.integers(0, 40), st.integers(0, 6), doc_texts),
    st.tuples(st.just("read")),
), max_size=10)


@given(doc_texts, doc_ops)
@settings(max_examples=200, deadline=None)
def test_full_replace_then_incremental_edits(text: str, ops: list[tuple[object, ...]]) -> None:
    doc = Document("file:///t", text)
    expected = text
    for op in ops:
        if op[0] == "replace":
            expected = str(op[1])
            doc.replace_all(expected)
        elif op[0] == "edit":
            at, length, new = int(op[1]), int(op[2]), str(op[3])  # type: ignore[call-overload]
            start = min(at, len(expected))
            end = min(start + length, len(expected))
            expected = expected[:start] + new + expected[end:]
            doc.apply_change(start, end, new)
        else:
            assert doc.starts == line_starts(expected)
        assert doc.text == expected
    assert doc.starts == line_starts(expected)


@given(doc_texts, st.sampled_from(["utf-16", "utf-8", "utf-32"]))
@settings(max_examples=200, deadline=None)
def test_every_offset_maps_inside_its_line(text: str, encoding: str) -> None:
    """Any offset, including one between ``\\r`` and ``\\n``, gives a position on a line and
    no further right than that line's end, and mapping back never moves past it."""
    doc = Document("file:///t", text)
    for offset in range(len(text) + 1):
        line, character = doc.position_at(offset, encoding)
        content = doc.line_text(line)
        width = len(content.encode("utf-16-le")) // 2 if encoding == "utf-16" else \
            len(content.encode()) if encoding == "utf-8" else len(content)
        assert 0 <= character <= width, (offset, line, character)
        back = doc.offset_at(line, character, encoding)
        assert doc.starts[line] <= back <= offset


def test_crlf_boundary() -> None:
    doc = Document("file:///t", "ab\r\ncd\r\n")
    assert doc.position_at(2) == (0, 2)  # before \r
    assert doc.position_at(3) == (0, 2)  # between \r and \n: still the end of line 0
    assert doc.position_at(4) == (1, 0)
    assert doc.position_at(8) == (2, 0)
    assert doc.offset_at(0, 3) == 2 and doc.offset_at(1, 0) == 4


POS_CHARS = st.sampled_from(list("ab") + ["é", "中", "😀", "\U0001f600", "\ud83d", "\ude00",
                                          "\ud800", "\r\n", "\n", "\r"])


def ref_units(ch: str, encoding: str) -> int:
    cp = ord(ch)
    if encoding == "utf-16":
        return 2 if cp > 0xFFFF else 1
    if encoding == "utf-8":
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    return 1


@given(st.lists(POS_CHARS, max_size=25).map("".join),
       st.sampled_from(["utf-16", "utf-8", "utf-32"]), st.data())
@settings(max_examples=300, deadline=None)
def test_columns_match_a_per_character_count(text: str, encoding: str,
                                             data: st.DataObject) -> None:
    """Column arithmetic agrees with counting units one character at a time, including lone
    surrogates (which JSON strings may carry) and columns inside a character."""
    doc = Document("file:///t", text)
    line = data.draw(st.integers(0, len(doc.starts) - 1))
    content = doc.line_text(line)
    character = data.draw(st.integers(0, 3 * len(content) + 2))
    units, want = 0, len(content)
    for i, ch in enumerate(content):
        if units + ref_units(ch, encoding) > character:
            want = i
            break
        units += ref_units(ch, encoding)
    offset = doc.offset_at(line, character, encoding)
    assert offset == doc.starts[line] + want
    assert doc.position_at(offset, encoding) == (line, sum(ref_units(c, encoding)
                                                           for c in content[:want]))


# --- the engine: type-through end to end ------------------------------------------------------


ident = st.text(alphabet="abcxyz_", min_size=1, max_size=8)


def held_ahead(old: str, o: int, suggestion: str, new: str, cursor: int, got: str,
               answer: str) -> bool:
    """``got`` is the next line a prefetch asked for once ``suggestion`` was typed to its end
    (the scripted backend answers every state with ``answer``)."""
    return (cursor > o and new[:o] == old[:o] and new[cursor:] == old[o:]
            and new[o:cursor] == suggestion and got.startswith("\n")
            and got.strip() == answer.strip())


@given(ident, ident, st.lists(st.sampled_from(["type", "type", "type", "backspace", "stray"]),
                              min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
@example("_", "_", ["stray", "type", "type", "type", "type", "type", "type", "backspace"])
def test_engine_type_through_never_serves_a_stale_rest(name: str, value: str,
                                                       keys: list[str]) -> None:
    """Keystrokes after a suggestion: a type-through answer is always exactly the unread rest of
    the suggestion last shown from the backend or the cache, and costs no backend call."""
    suggestion = f"{name} = {value}"
    backend = ScriptedBackend(suggestion)
    engine = Engine(Settings(api_key="sk-test-prop", debounce_ms=0, invoked_suggestions=1),
                    backend_factory=lambda s: backend)
    text0 = "def f():\n    \n"
    o = text0.index("\n    ") + 5

    async def run() -> None:
        first = await engine.complete(CompletionRequest(URI, text0, o, "python"))
        assert [i.text for i in first.items] == [suggestion]
        text, cursor = text0, o
        # The states suggestions were fetched for, newest first (the engine keeps four).
        anchors = [(text0, o, suggestion)]
        through = 0
        for key in keys:
            a_text, a_offset, shown_text = anchors[0]
            typed_len = cursor - a_offset
            if key == "type" and 0 <= typed_len < len(shown_text) \
                    and text[a_offset:cursor] == shown_text[:typed_len]:
                text, cursor = text[:cursor] + shown_text[typed_len] + text[cursor:], cursor + 1
            elif key in ("type", "stray"):
                text, cursor = text[:cursor] + "#" + text[cursor:], cursor + 1
            elif key == "backspace" and cursor > 0:
                text, cursor = text[:cursor - 1] + text[cursor:], cursor - 1
            calls = backend.calls
            result = await engine.complete(CompletionRequest(URI, text, cursor, "python"))
            wants = [oracle(*anchor, text, cursor) for anchor in anchors]
            want = next((w for w in wants if w is not None), None)
            if result.source == "type_through":
                through += 1
                got = [i.text for i in result.items]
                if want is None and len(got) == 1 and any(
                        held_ahead(*anchor, text, cursor, got[0], backend.text)
                        for anchor in anchors):
                    continue  # the line asked ahead for after a suggestion typed to its end
                assert want is not None and got == [want]
                assert backend.calls == calls
            else:
                assert wants[0] is None or key != "type", "typing the suggestion lost it"
                assert want is None, "an earlier suggestion being typed was lost"
                if result.items:
                    anchors = [(text, cursor, result.items[0].text)] + [
                        a for a in anchors if a[:2] != (text, cursor)][:3]
        event(f"type-through answers: {min(through, 3)}")
        await engine.aclose()

    asyncio.run(run())
