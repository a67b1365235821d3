"""Type-through bookkeeping (cache.py) on its own: what is shown of a remainder, several
suggestions per document, extension by a prefetch, and the end of a suggestion."""

from __future__ import annotations

from deepseek_fim_lsp.completion.cache import _GUARD, Snapshot, TypeThrough, shown_part
from deepseek_fim_lsp.postprocess import Suggestion

URI = "file:///t.rs"


def items(*texts: str) -> tuple[Suggestion, ...]:
    return tuple(Suggestion(t) for t in texts)


def test_a_used_up_line_shows_the_next_line_with_content() -> None:
    assert shown_part("x = 1\ny = 2", single=True) == "x = 1"
    assert shown_part("\n    y = 2\nz", single=True) == "\n    y = 2"
    # Blank lines in between are shown with the line after them, never alone.
    assert shown_part("\n\npub struct E {", single=True) == "\n\npub struct E {"
    assert shown_part("\n\n", single=True) == "\n\n"
    assert shown_part("a\nb", single=False) == "a\nb"


def test_a_look_elsewhere_keeps_the_suggestion_being_typed() -> None:
    tt = TypeThrough()
    doc = "fn f() {\n    \n}\n"
    at = doc.index("    \n") + 4
    tt.remember(URI, doc, at, items("let x = 1;"), single=True)
    # The cursor went to line 0 and got an answer there.
    tt.remember(URI, doc, 8, items(" // entry"), single=True)
    typed = doc[:at] + "let" + doc[at:]
    assert tt.lookup(URI, typed, at + 3) == items(" x = 1;")
    assert tt.lookup(URI, doc[:8] + " //" + doc[8:], 11) == items(" entry")


def test_only_the_last_four_suggestions_are_kept() -> None:
    tt = TypeThrough()
    doc = "\n".join(f"line{i}" for i in range(6)) + "\n"
    ends = [i for i, c in enumerate(doc) if c == "\n"]
    for n, end in enumerate(ends):
        tt.remember(URI, doc, end, items(f" # note {n}"))
    answers = [tt.lookup(URI, doc[:end] + " #" + doc[end:], end + 2) for end in ends]
    assert answers[:2] == [None, None]
    assert answers[2:] == [items(f" note {n}") for n in range(2, 6)]


def test_extension_is_held_behind_the_line_and_shown_after_enter() -> None:
    tt = TypeThrough()
    doc = "def f():\n    x = \n"
    at = doc.index("= ") + 2
    tt.remember(URI, doc, at, items("1"), single=False)
    rem = tt.remainder(URI, doc, at)
    assert rem is not None and (rem.rest, rem.held) == ("1", 1)
    assert tt.extend(URI, rem, "\n    return x\n    # end")
    assert not tt.extend(URI, rem, "\nagain")  # the entry changed since: stale extension
    line = doc[:at] + "1" + doc[at:]
    # Now shown a line at a time (the block shown was "1"; the rest is a guess ahead).
    assert tt.lookup(URI, line, at + 1) == items("\n    return x")
    after_enter = doc[:at] + "1\n    " + doc[at:]
    assert tt.lookup(URI, after_enter, at + 6) == items("return x")


def test_nothing_to_add_closes_the_suggestion_at_its_end() -> None:
    tt = TypeThrough()
    doc = "x = \n"
    tt.remember(URI, doc, 4, items("42"), single=True)
    rem = tt.remainder(URI, doc, 4)
    assert rem is not None
    assert not tt.ends_here(URI, doc[:4] + "42" + doc[4:], 6)
    assert not tt.extend(URI, rem, "  ")  # the model had nothing to add
    assert tt.ends_here(URI, doc[:4] + "42" + doc[4:], 6)
    assert not tt.ends_here(URI, doc[:4] + "4" + doc[4:], 5)  # not at its end yet
    assert not tt.ends_here(URI, doc[:4] + "43" + doc[4:], 6)  # typed something else


def test_a_snapshot_holds_only_the_text_around_the_cursor() -> None:
    big = "a" * (10 * _GUARD) + "|" + "b" * (10 * _GUARD)
    at = big.index("|")
    snap = Snapshot.of(big, at)
    assert len(snap.before) == len(snap.after) == _GUARD
    assert snap.typed(big[:at] + "xy" + big[at:], at + 2) == "xy"
    assert snap.typed(big, at) == ""
    assert snap.typed(big[:at] + "xy" + big[at + 1:], at + 2) is None  # replaced, not typed
    far = "c" + big[1:]  # a change far away does not matter
    assert snap.typed(far[:at] + "z" + far[at:], at + 1) == "z"
