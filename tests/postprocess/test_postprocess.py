"""Unit tests for each clean-up step, the mode choice and streaming early-stop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_fim_lsp.postprocess import (
    Suggestion,
    choose_mode,
    clean,
    cut,
    detect_indent,
    drop_suffix_tail,
    early_stop,
    is_useless,
    reindent,
    resolve_cursor_line_overlap,
    trim_whitespace,
)


def apply(prefix: str, suffix: str, s: Suggestion | None) -> str | None:
    return None if s is None else prefix + s.text + suffix[s.replace :]


def complete(doc: str, raw: str, setting: str = "auto") -> str | None:
    prefix, suffix = doc.split("|")
    mode = choose_mode(prefix, suffix, setting)  # type: ignore[arg-type]
    return apply(prefix, suffix, clean(raw, prefix=prefix, suffix=suffix, mode=mode))


# ------------------------------------------------------------------------------ choose_mode

@pytest.mark.parametrize(
    ("doc", "mode"),
    [
        ("def f():|\n", "multi"),
        ("if (x) {|}\n", "multi"),
        ("foo(|)\n", "multi"),
        ("items.map((x) =>|);\n", "multi"),
        ("fn f() ->|\n", "multi"),
        ("each do |x||\n", "multi"),
        ("if x then|\n", "multi"),
        ("    |\n", "multi"),
        ("|\n", "multi"),
        ("x = 1|\n", "single"),
        ("return |x\n", "single"),
        ("if (|) {\n", "single"),
        ("foo(|, b)\n", "single"),
        ("split(|, \",\")\n", "single"),
        ("x = foo(|);\n", "multi"),
        ("print(\"|\")\n", "single"),
        ("def f():|  # note\n", "single"),
    ],
)
def test_choose_mode_auto(doc: str, mode: str) -> None:
    prefix, suffix = doc.split("|", 1) if doc.count("|") == 1 else doc.rsplit("|", 1)
    assert choose_mode(prefix, suffix, "auto") == mode


def test_choose_mode_forced() -> None:
    assert choose_mode("x = 1", "\n", "always") == "multi"
    assert choose_mode("def f():", "\n", "never") == "single"


# ------------------------------------------------------------------------------ early_stop

def test_single_stops_at_first_line_end_after_content() -> None:
    kw = {"mode": "single", "prefix": "x = ", "suffix": "\n"}
    assert early_stop("foo(", **kw) is None  # type: ignore[arg-type]
    assert early_stop("foo()\nbar", **kw) == 5  # type: ignore[arg-type]


def test_single_keeps_reading_past_a_leading_newline_at_end_of_line() -> None:
    kw = {"mode": "single", "prefix": "x = 1", "suffix": "\n"}
    assert early_stop("\n", **kw) is None  # type: ignore[arg-type]
    assert early_stop("\ny = 2\nz", **kw) == 6  # type: ignore[arg-type]


def test_single_leading_newline_with_text_after_cursor_stops_at_once() -> None:
    assert early_stop("\nfoo", mode="single", prefix="f(", suffix="x)\n") == 0
    assert complete("f(|x)\n", "\nfoo") is None


def test_multi_waits_for_complete_lines() -> None:
    kw = {"mode": "multi", "prefix": "def f():", "suffix": "\n"}
    assert early_stop("\n    return 1", **kw) is None  # type: ignore[arg-type]
    assert early_stop("\n    return 1\ndef", **kw) is None  # type: ignore[arg-type]
    # the dedented line is judged once it is complete
    assert early_stop("\n    return 1\ndef g():\n", **kw) == len("\n    return 1")  # type: ignore[arg-type]


def test_multi_keeps_closing_line_when_suffix_does_not_close() -> None:
    text = "\n  return 1;\n}\n\nfunction g() {\n"
    stop = early_stop(text, mode="multi", prefix="function f() {", suffix="\n")
    assert stop is not None and text[:stop] == "\n  return 1;\n}"


def test_multi_drops_closing_line_when_suffix_closes() -> None:
    text = "\n  return 1;\n}\n"
    stop = early_stop(text, mode="multi", prefix="function f() {", suffix="\n}\n")
    assert stop is not None and text[:stop] == "\n  return 1;"


def test_multi_drops_closing_line_when_block_goes_on_below() -> None:
    text = "x();\n}\n"
    stop = early_stop(text, mode="multi", prefix="if (a) {\n  ", suffix="\n  y();\n}\n")
    assert stop is not None and text[:stop] == "x();"


def test_multi_if_else_goes_on_when_the_block_ends_at_the_cursor() -> None:
    text = "\n  a();\n} else {\n  b();\n}\nnext();\n"
    for suffix, kept in (("", "\n  a();\n} else {\n  b();\n}"),
                         ("\n}\n", "\n  a();\n} else {\n  b();")):
        stop = early_stop(text, mode="multi", prefix="if (x) {", suffix=suffix)
        assert stop is not None and text[:stop] == kept
    py = "\n    a()\nelse:\n    b()\nc()\n"
    stop = early_stop(py, mode="multi", prefix="if x:", suffix="\n\nprint(1)\n")
    assert stop is not None and py[:stop] == "\n    a()\nelse:\n    b()"


def test_multi_else_stops_when_the_block_goes_on_below() -> None:
    text = "\n  a();\n} else {\n  b();\n}\n"
    stop = early_stop(text, mode="multi", prefix="if (x) {", suffix="\n  c();\n}\n")
    assert stop is not None and text[:stop] == "\n  a();"
    text = "a();\n} else {\n  b();\n}\n"  # cursor inside the block: never leave it
    stop = early_stop(text, mode="multi", prefix="if (x) {\n  ", suffix="\n")
    assert stop is not None and text[:stop] == "a();"


def test_multi_stops_when_model_writes_the_suffix() -> None:
    suffix = "\n    return total_value\n"
    text = "total_value = 1\n    return total_value\n"
    stop = early_stop(text, mode="multi", prefix="def f():\n    ", suffix=suffix)
    assert stop is not None and text[:stop] == "total_value = 1"


def test_multi_short_suffix_line_needs_the_next_one_to_confirm() -> None:
    prefix, suffix = "fn f() -> i32 {\n    ", "\n    n\n}\n"
    assert early_stop("let n = 1;\n    n\n", mode="multi", prefix=prefix, suffix=suffix) is None
    text = "let n = 1;\n    n\n}\n"
    stop = early_stop(text, mode="multi", prefix=prefix, suffix=suffix)
    assert stop is not None and text[:stop] == "let n = 1;"
    # an `n` that is not followed by the suffix's next line is the model's own code
    assert cut("let n = 1;\n    n\n    m\n", mode="multi", prefix=prefix, suffix=suffix) is None


def test_multi_stops_on_a_line_repeated_three_times() -> None:
    text = "a += 1\n    a += 1\n    a += 1\n"
    stop = early_stop(text, mode="multi", prefix="def f():\n    ", suffix="\n")
    assert stop is not None and text[:stop] == "a += 1"
    assert early_stop("a += 1\n    a += 1\n", mode="multi", prefix="def f():\n    ",
                      suffix="\n") is None


def test_multi_stops_on_a_repeated_block() -> None:
    text = "a()\n  b()\n  c()\n  a()\n  b()\n  c()\n"
    stop = early_stop(text, mode="multi", prefix="{\n  ", suffix="\n}")
    assert stop is not None and text[:stop] == "a()\n  b()\n  c()"


def test_multi_block_repeating_the_prefix_is_dropped() -> None:
    prefix = "def f():\n    log(1)\n    log(2)\n    "
    assert cut("log(1)\n    log(2)\n", mode="multi", prefix=prefix, suffix="\n") == 0


def test_brackets_only_lines_are_not_loops() -> None:
    text = "\n    }\n  }\n}"
    assert cut(text, mode="multi", prefix="f() {", suffix="") == len(text)


_LINES = [
    "x = 1",
    "    y = 2",
    "    y = 2",
    "        z()",
    "    return y",
    "}",
    "    }",
    "",
    "def g():",
    "  q",
]


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.sampled_from(_LINES), max_size=12),
    chunk=st.integers(min_value=1, max_value=9),
    mode=st.sampled_from(["single", "multi"]),
    doc=st.sampled_from([
        ("def f():", "\n    return y\n"),
        ("def f():\n    ", "\n    y = 2\n    return y\n"),
        ("func f() {", "\n}\n"),
        ("func f() {\n    ", ""),
        ("x = foo(", ")\n"),
        ("    ", "return y\n"),
    ]),
    crlf=st.booleans(),
)
def test_streaming_never_changes_the_answer(
    lines: list[str], chunk: int, mode: str, doc: tuple[str, str], crlf: bool
) -> None:
    prefix, suffix = doc
    raw = ("\r\n" if crlf else "\n").join(lines)
    acc = ""
    for i in range(0, len(raw), chunk):
        acc += raw[i : i + chunk]
        stop = early_stop(acc, mode=mode, prefix=prefix, suffix=suffix)  # type: ignore[arg-type]
        if stop is not None:
            acc = acc[:stop]
            break
    whole = clean(raw, prefix=prefix, suffix=suffix, mode=mode)  # type: ignore[arg-type]
    streamed = clean(acc, prefix=prefix, suffix=suffix, mode=mode)  # type: ignore[arg-type]
    assert streamed == whole


@settings(max_examples=200, deadline=None)
@given(raw=st.text(alphabet="ab (){}\"\n\t ;", max_size=40),
       after=st.sampled_from(["", ")", "\");", "})", " x)", "y"]))
def test_clean_invariants(raw: str, after: str) -> None:
    prefix, suffix = "def f():\n    x = g(", after + "\nz\n"
    for mode in ("single", "multi"):
        s = clean(raw, prefix=prefix, suffix=suffix, mode=mode)  # type: ignore[arg-type]
        if s is None:
            continue
        assert s.text.strip()
        assert 0 <= s.replace <= len(after)
        assert not s.text.endswith((" \n", "\n")), "no dangling line break"
        assert "\r" not in s.text
        if mode == "single":
            assert "\n" not in s.text.lstrip("\n")


# ------------------------------------------------------------------------------ steps

def test_trim_whitespace() -> None:
    assert trim_whitespace("a  \n  b\t\n\n   \n") == "a\n  b"
    assert trim_whitespace("\n    x") == "\n    x"
    assert trim_whitespace("x, ", keep_trailing_space=True) == "x, "
    assert trim_whitespace("x\n  ", keep_trailing_space=True) == "x"
    assert trim_whitespace("   \n  ") == ""


def test_drop_suffix_tail() -> None:
    lines = ("return x", "}")
    assert drop_suffix_tail("y = 1\n  return x\n}", before="  ", suffix_lines=lines) == "y = 1"
    assert drop_suffix_tail("y = 1\n  return x", before="  ", suffix_lines=lines) == "y = 1"
    assert drop_suffix_tail("y = 1", before="  ", suffix_lines=lines) == "y = 1"
    assert drop_suffix_tail("return x", before="  ", suffix_lines=lines) == ""
    # the cursor line itself is never cut away
    assert drop_suffix_tail("x", before="  return ", suffix_lines=lines) == "x"


@pytest.mark.parametrize(
    ("before", "after", "text", "expected"),
    [
        ("foo(", ")", "a, b)", Suggestion("a, b)", 1)),
        ("foo(", ")", "a, b", Suggestion("a, b", 0)),
        ("foo(", ")", "a, b))", Suggestion("a, b)", 1)),
        ("print(", ")", "len(x)", Suggestion("len(x)", 0)),
        ("print(\"", "\")", "hi\"", Suggestion("hi\"", 1)),
        ("print(\"", "\")", "hi\")", Suggestion("hi\")", 2)),
        ("println!(\"{}", "\");", "\", n);", Suggestion("\", n);", 3)),
        ("foo(", ", b)", "a, b)", Suggestion("a", 0)),
        ("if ", " > 0:", "n > 0:", Suggestion("n", 0)),
        ("x = ", "", "1", Suggestion("1", 0)),
        ("f(", ");", "a);", Suggestion("a);", 2)),
        ("f(", ");", "a)", Suggestion("a)", 1)),
    ],
)
def test_resolve_cursor_line_overlap(before: str, after: str, text: str,
                                     expected: Suggestion) -> None:
    assert resolve_cursor_line_overlap(text, before=before, after=after) == expected


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("def f():\n    return 1\n", "    "),
        ("if (x) {\n  y();\n  if (z) {\n    w();\n  }\n}\n", "  "),
        ("func f() {\n\tx()\n\tif y {\n\t\tz()\n\t}\n}\n", "\t"),
        ("x = 1\ny = 2\n", "    "),
        ("/**\n * doc\n */\nint f() {\n  return 1;\n}\n", "  "),
        ("a:\n        b\n", " " * 8),
    ],
)
def test_detect_indent(text: str, unit: str) -> None:
    assert detect_indent(text) == unit


def test_reindent_spaces_to_tabs() -> None:
    text = "\n    if a {\n        b()\n    }"
    assert reindent(text, before="func f() {", doc_unit="\t") == "\n\tif a {\n\t\tb()\n\t}"


def test_reindent_tabs_to_spaces() -> None:
    assert reindent("\n\t\tx()", before="    for {", doc_unit="    ") == "\n        x()"


def test_reindent_four_to_two_relative_to_cursor_line() -> None:
    text = "\n      a();\n          b();"
    assert reindent(text, before="  if (x) {", doc_unit="  ") == "\n    a();\n      b();"


def test_reindent_leaves_matching_answers_and_first_line_alone() -> None:
    assert reindent("    x\n  y", before="", doc_unit="  ") == "    x\n  y"
    assert reindent("\n  a\n    b", before="{", doc_unit="  ") == "\n  a\n    b"
    assert reindent("x", before="    ", doc_unit="\t") == "x"


def test_is_useless() -> None:
    kw = {"after": "", "context": ("    y = f(x)",), "suffix_lines": ("return y",)}
    assert is_useless(Suggestion("  "), before="", **kw)  # type: ignore[arg-type]
    assert is_useless(Suggestion("y = f(x)"), before="    ", **kw)  # type: ignore[arg-type]
    assert is_useless(Suggestion("return y"), before="    ", **kw)  # type: ignore[arg-type]
    assert is_useless(Suggestion("\n    z = 1"), before="    z = 1", **kw)  # type: ignore[arg-type]
    assert not is_useless(Suggestion("z = 1"), before="    ", **kw)  # type: ignore[arg-type]
    assert not is_useless(Suggestion("f(x)"), before="    y = ", **kw)  # type: ignore[arg-type]
    assert is_useless(Suggestion(")", 1), before="f(", after=")", context=(),
                      suffix_lines=())


# ------------------------------------------------------------------------------ clean

def test_clean_crlf_document_gets_crlf() -> None:
    prefix, suffix = "int f() {", "\r\n}\r\n"
    s = clean("\n    return 0;\n}", prefix=prefix, suffix=suffix, mode="multi")
    assert s == Suggestion("\r\n    return 0;")


def test_clean_lf_document_drops_carriage_returns() -> None:
    s = clean("\r\n    return 0;\r\n", prefix="int f() {", suffix="\n}\n", mode="multi")
    assert s == Suggestion("\n    return 0;")


def test_clean_keeps_separator_space_before_real_text() -> None:
    assert complete("f(|b)\n", "a, ") == "f(a, b)\n"


def test_clean_body_between_braces_puts_closer_on_its_own_line() -> None:
    assert complete("  if (x) {|}\n", "\n    y();") == "  if (x) {\n    y();\n  }\n"


def test_clean_inserts_whole_line_above_existing_text() -> None:
    assert complete("def f(x):\n    |return x\n", "x += 1\n    ") == (
        "def f(x):\n    x += 1\n    return x\n")


def test_clean_without_line_break_does_not_invent_one() -> None:
    assert complete("x = 1\n|foo()\n", "y = ") == "x = 1\ny = foo()\n"


def test_clean_returns_none_for_nothing_useful() -> None:
    assert complete("x = |\n", "") is None
    assert complete("x = |\n", " \n\t\n") is None
    assert complete("foo(|)\n", ")") is None


# ------------------------------------------------------------------------------ streaming cost

def _stream(raw: str, prefix: str, suffix: str, chunk: int = 1) -> str:
    acc = ""
    for i in range(0, len(raw), chunk):
        acc += raw[i : i + chunk]
        stop = early_stop(acc, mode="multi", prefix=prefix, suffix=suffix)
        if stop is not None:
            return acc[:stop]
    return acc


def test_streaming_looks_at_each_line_about_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per chunk only the new lines are scanned, not the whole answer again."""
    from deepseek_fim_lsp.postprocess.cut import Scan

    seen: list[int] = []
    original = Scan._line

    def counting(self: Scan, start: int, raw: str) -> int | None:
        seen.append(start)
        return original(self, start, raw)

    monkeypatch.setattr(Scan, "_line", counting)
    raw = "".join(f"y{i} = f({i})\n    " for i in range(300))
    assert _stream(raw, "def g():\n    ", "\n") == raw
    assert len(seen) <= 2 * 300


def test_interleaved_streams_for_one_cursor_do_not_mix() -> None:
    """Invoked completions stream several answers for the same prefix/suffix at once."""
    prefix, suffix = "def f():\n    ", "\n    return y\n"
    a = "x = 1\n    y = x\n    return y\n"
    b = "y = 2\n    y += 1\n    z = 3\n"
    acc_a = acc_b = ""
    stop_a = stop_b = None
    for i in range(max(len(a), len(b))):
        acc_a += a[i : i + 1]
        acc_b += b[i : i + 1]
        stop_a = stop_a or early_stop(acc_a, mode="multi", prefix=prefix, suffix=suffix)
        stop_b = stop_b or early_stop(acc_b, mode="multi", prefix=prefix, suffix=suffix)
    assert stop_a is not None and a[:stop_a] == "x = 1\n    y = x"
    assert stop_b is None


def test_lone_closer_after_a_closer_is_not_a_copy() -> None:
    assert complete("f() {\n  if (x) {\n    y();\n  }\n|\n", "}") == (
        "f() {\n  if (x) {\n    y();\n  }\n}\n")


def test_extra_closer_beyond_what_is_open_is_dropped() -> None:
    assert complete("x = foo(a|\n", "))") == "x = foo(a)\n"
    assert complete("x = [f(a|\n", ")]]") == "x = [f(a)]\n"


def test_closers_of_brackets_opened_on_earlier_lines_are_kept() -> None:
    doc = "run(function () {\n  work();\n|\n"
    assert complete(doc, "});") == "run(function () {\n  work();\n});\n"
    doc = "p.then(() => {\n  a();\n}).catch(|\n"
    assert complete(doc, "(e) => log(e));") == "p.then(() => {\n  a();\n}).catch((e) => log(e));\n"


def test_reindent_at_column_zero_measures_from_the_answers_first_line() -> None:
    """At the start of a line the answer carries its own indentation: lines as deep as the first
    are not rescaled, deeper ones relative to it."""
    same = '    const matched = match();\n    const ctx: Context = {'
    assert reindent(same, before="", doc_unit="  ") == same
    assert reindent("  if (x) {\n      a();", before="", doc_unit="  ") == "  if (x) {\n    a();"
