"""Prompt windows: budgets, line-boundary cuts, cache-friendly starts, cross-file context."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_fim_lsp.context.crossfile import OpenDocument, comment_prefix
from deepseek_fim_lsp.context.tokens import estimate_tokens
from deepseek_fim_lsp.context.window import CHAR_ALIGN, FimWindow, build_window


def window(
    text: str, offset: int, prefix: int = 3000, suffix: int = 1000, **kw: object
) -> FimWindow:
    return build_window(
        text,
        offset,
        uri=str(kw.pop("uri", "file:///proj/src/main.py")),
        language_id=str(kw.pop("language_id", "python")),
        prefix_tokens=prefix,
        suffix_tokens=suffix,
        **kw,  # type: ignore[arg-type]
    )


def numbered(n: int, width: int = 30) -> str:
    return "".join(f"row_{i:05d} = value_{i} + {'x' * (i % width)}\n" for i in range(n))


def line_no(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


def at_line_start(text: str, i: int) -> bool:
    return i == 0 or text[i - 1] == "\n"


# --- estimate_tokens ----------------------------------------------------------------------------


def test_estimate_tokens_follows_documented_ratio() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1  # 0.3 rounds up
    assert estimate_tokens("a" * 10) == 3
    assert estimate_tokens("a" * 11) == 4  # 3.3 → 4
    assert estimate_tokens("中文") == 2  # 1.2 → 2
    assert estimate_tokens("中" * 10) == 6
    assert estimate_tokens("ab中") == 2  # 0.6 + 0.6 = 1.2 → 2
    assert estimate_tokens("😀" * 5) == 3  # a non-BMP character is one character
    assert estimate_tokens("\t\r\n" * 10) == 9


def test_estimate_tokens_large_text() -> None:
    text = ("x = 1\n" * 1_000_000) + "é" * 1000
    ascii_chars = len(text) - 1000
    assert estimate_tokens(text) == math.ceil((ascii_chars * 3 + 1000 * 6) / 10)


# --- basic windows ------------------------------------------------------------------------------


def test_small_document_is_sent_whole() -> None:
    text = "import os\n\ndef main():\n    print(os.getcwd())\n"
    off = text.index("print")
    w = window(text, off)
    assert w.prefix_start == 0 and w.suffix_end == len(text)
    assert w.prefix == text[:off] and w.prompt == w.prefix and w.suffix == text[off:]
    assert w.context_uris == ()


def test_cursor_at_start_end_and_empty_document() -> None:
    text = "a = 1\nb = 2\n"
    start = window(text, 0)
    assert (start.prefix, start.prompt, start.prefix_start) == ("", "", 0)
    assert start.suffix == text
    end = window(text, len(text))
    assert end.prefix == text and end.suffix == "" and end.suffix_end == len(text)
    empty = window("", 0)
    assert (empty.prompt, empty.prefix, empty.suffix, empty.prefix_start, empty.suffix_end) == (
        "",
        "",
        "",
        0,
        0,
    )


def test_offset_is_clamped_into_the_document() -> None:
    text = "abc\n"
    assert window(text, 99).prefix == text
    assert window(text, -5).suffix == text


def test_zero_suffix_budget_gives_empty_suffix() -> None:
    text = "a\nb\nc\n"
    w = window(text, 2, suffix=0)
    assert w.suffix == "" and w.suffix_end == 2


def test_prefix_cut_at_line_boundary_within_budget() -> None:
    text = numbered(500)
    off = len(text) - 7
    for budget in (16, 50, 300, 1000):
        w = window(text, off, prefix=budget, sliding=True)
        assert estimate_tokens(w.prefix) <= budget
        assert at_line_start(text, w.prefix_start) and w.prefix_start > 0
        prev = text.rfind("\n", 0, w.prefix_start - 1) + 1
        assert estimate_tokens(text[prev:off]) > budget  # one more line would not fit


def test_suffix_cut_at_line_end_within_budget() -> None:
    text = numbered(500)
    off = 10
    for budget in (16, 50, 300):
        w = window(text, off, suffix=budget)
        assert estimate_tokens(w.suffix) <= budget
        assert text[w.suffix_end - 1] == "\n"
        nxt = text.find("\n", w.suffix_end) + 1
        assert estimate_tokens(text[off:nxt]) > budget  # one more line would not fit


def test_cursor_line_included_whole_when_it_fits() -> None:
    text = "x = 1\n" * 100 + "result = compute(alpha, beta, gamma)"
    off = len(text)
    line_start = text.rfind("\n") + 1
    need = estimate_tokens(text[line_start:])
    w = window(text, off, prefix=need, sliding=True)
    assert w.prefix_start == line_start
    w = window(text, off, prefix=need)
    assert w.prefix_start == line_start


def test_crlf_document_keeps_pairs_intact() -> None:
    text = "".join(f"line {i}\r\n" for i in range(400))
    off = text.index("line 200") + 4
    for sliding in (False, True):
        w = window(text, off, prefix=100, suffix=100, sliding=sliding)
        assert at_line_start(text, w.prefix_start)
        assert w.suffix.endswith("\r\n")
        assert w.prefix == text[w.prefix_start : off]


def test_forced_cut_never_splits_crlf() -> None:
    # The line above the cursor is too long, so its tail is taken; the cut must not land between
    # "\r" and "\n" even when the budget would allow exactly the "\n".
    text = "y" * 5000 + "\r\n" + "ab"
    off = len(text)
    for budget_tenths in range(6, 40):
        budget = math.ceil(budget_tenths / 10)
        w = window(text, off, prefix=budget, sliding=True)
        assert not (text[w.prefix_start - 1] == "\r" and text[w.prefix_start] == "\n")
        assert estimate_tokens(w.prefix) <= budget
    # a suffix cut inside a huge CRLF line, with budgets ending right after the "\r"
    hits = 0
    for z in range(5000, 5010):
        text = "ab" + "z" * z + "\r\n" + "tail"
        budget = math.ceil(3 * (z + 2) / 10)  # "b" + z * "z" + "\r" fit, the "\n" does not
        w = window(text, 1, suffix=budget)
        assert not w.suffix.endswith("\r") and estimate_tokens(w.suffix) <= budget
        hits += w.suffix_end == z + 2
    assert hits > 0


def test_tabs_emoji_and_cjk() -> None:
    text = "".join(f"\tdef f_{i}():  # 函数 {i} 😀\n\t\treturn '数据'\n" for i in range(300))
    off = text.index("f_150")
    w = window(text, off, prefix=200, suffix=200, sliding=True)
    assert w.prefix == text[w.prefix_start : off] and w.suffix == text[off : w.suffix_end]
    assert estimate_tokens(w.prefix) <= 200 and estimate_tokens(w.suffix) <= 200
    assert at_line_start(text, w.prefix_start) and text[w.suffix_end - 1] == "\n"
    # CJK costs double, so fewer characters fit than for the same amount of ASCII
    ascii_text = text.encode("ascii", "replace").decode().replace("?", "z")
    wa = window(ascii_text, off, prefix=200, suffix=200, sliding=True)
    assert len(wa.prefix) > len(w.prefix)


def test_huge_single_line_is_cut_by_characters() -> None:
    text = "var a=1;" * 200_000  # 1.6 MB minified line
    off = len(text) // 2
    w = window(text, off, prefix=300, suffix=100)
    assert w.prefix == text[w.prefix_start : off] and w.suffix == text[off : w.suffix_end]
    assert estimate_tokens(w.prefix) <= 300 and estimate_tokens(w.suffix) <= 100
    # nearly the whole budget is used (aligned cuts give up less than one alignment step)
    assert len(w.prefix) >= 1000 - CHAR_ALIGN and len(w.suffix) >= 330
    sliding = window(text, off, prefix=300, sliding=True)
    assert len(sliding.prefix) == 1000


def test_huge_line_above_short_cursor_line_contributes_its_tail() -> None:
    text = "q" * 100_000 + "\nfoo("
    w = window(text, len(text), prefix=100, sliding=True)
    assert w.prefix.endswith("\nfoo(") and len(w.prefix) == 333  # 100 tokens / 0.3
    assert estimate_tokens(w.prefix) <= 100


def test_ten_megabyte_document() -> None:
    text = numbered(250_000)  # ≈ 10 MB
    assert len(text) > 9_000_000
    off = text.index("row_123456")
    w = window(text, off, prefix=3000, suffix=1000)
    assert w.prefix == text[w.prefix_start : off] and w.suffix == text[off : w.suffix_end]
    assert 2500 < estimate_tokens(w.prefix) <= 3000
    assert 900 < estimate_tokens(w.suffix) <= 1000
    assert line_no(text, w.prefix_start) % 32 == 0


# --- cache-friendly start -----------------------------------------------------------------------


def test_aligned_start_is_smallest_multiple_of_chunk_that_fits() -> None:
    text = numbered(2000)
    off = text.index("row_01000")
    sliding = window(text, off, prefix=1500, sliding=True)
    aligned = window(text, off, prefix=1500, chunk_lines=32)
    first = line_no(text, sliding.prefix_start)
    assert line_no(text, aligned.prefix_start) == math.ceil(first / 32) * 32
    assert at_line_start(text, aligned.prefix_start)
    assert aligned.prefix_start >= sliding.prefix_start


def test_start_of_file_kept_while_it_fits() -> None:
    text = numbered(50)
    off = len(text) - 3
    w = window(text, off, prefix=estimate_tokens(text))
    assert w.prefix_start == 0


def test_typing_keeps_prompt_start_identical_only_in_aligned_mode() -> None:
    text = numbered(2000)
    off = text.index("row_01000")
    typed = "result = compute(alpha, beta, gamma) + delta * 2  "
    assert len(typed) == 50
    aligned: list[FimWindow] = []
    sliding: list[FimWindow] = []
    for i in range(1, len(typed) + 1):
        doc = text[:off] + typed[:i] + text[off:]
        aligned.append(window(doc, off + i, prefix=1500, suffix=300))
        sliding.append(window(doc, off + i, prefix=1500, suffix=300, sliding=True))
    n = 3000
    assert len({w.prompt[:n] for w in aligned}) == 1
    assert len({w.prefix_start for w in aligned}) == 1
    assert len({w.prompt[:n] for w in sliding}) > 1


def test_pressing_enter_does_not_move_the_start() -> None:
    text = numbered(2000)
    off = text.index("row_01000")
    before = window(text, off, prefix=1500)
    doc = text[:off] + "\n" + text[off:]
    after = window(doc, off + 1, prefix=1500)
    assert after.prefix_start == before.prefix_start


def test_small_budget_still_uses_line_starts() -> None:
    text = numbered(2000)
    off = text.index("row_01000") + 3
    w = window(text, off, prefix=16, chunk_lines=32)
    assert at_line_start(text, w.prefix_start) and estimate_tokens(w.prefix) <= 16
    assert w.prefix_start < off


# --- property tests -----------------------------------------------------------------------------

ALPHABET = st.sampled_from(["a", "b", " ", "\t", "\n", "\r\n", "\r", "é", "中", "😀", "xyz" * 20])


@st.composite
def doc_and_offset(draw: st.DrawFn) -> tuple[str, int]:
    text = "".join(draw(st.lists(ALPHABET, max_size=200)))
    offset = draw(st.integers(min_value=0, max_value=len(text)))
    return text, offset


def forced_or_line_start(text: str, start: int, offset: int) -> bool:
    if at_line_start(text, start):
        return True
    # a forced cut lies inside the cursor line or the line right above it
    return text.count("\n", start, offset) <= 1


@settings(max_examples=300, deadline=None)
@given(
    doc_and_offset(),
    st.integers(0, 120),
    st.integers(0, 120),
    st.booleans(),
    st.sampled_from([1, 2, 4, 32]),
)
def test_window_invariants(
    doc: tuple[str, int], ptok: int, stok: int, sliding: bool, chunk: int
) -> None:
    text, off = doc
    w = window(text, off, prefix=ptok, suffix=stok, sliding=sliding, chunk_lines=chunk)
    assert w.prefix == text[w.prefix_start : off] and w.prompt == w.prefix
    assert w.suffix == text[off : w.suffix_end]
    assert estimate_tokens(w.prefix) <= ptok and estimate_tokens(w.suffix) <= stok
    assert forced_or_line_start(text, w.prefix_start, off)
    end = w.suffix_end
    assert (
        end == len(text) or end == off or text[end - 1] == "\n" or text.count("\n", off, end) <= 1
    )
    assert w.prefix_start <= off <= end
    for i in {w.prefix_start, end} - {off}:  # only the cursor itself may sit inside "\r\n"
        assert not (0 < i < len(text) and text[i - 1] == "\r" and text[i] == "\n")
    line_start = text.rfind("\n", 0, off) + 1
    if estimate_tokens(text[line_start:off]) <= ptok:
        assert w.prefix_start <= line_start
    if sliding and w.prefix_start > 0 and at_line_start(text, w.prefix_start):
        prev = text.rfind("\n", 0, w.prefix_start - 1) + 1
        assert estimate_tokens(text[prev:off]) > ptok


@settings(max_examples=100, deadline=None)
@given(doc_and_offset(), st.integers(1, 120))
def test_aligned_start_never_earlier_than_sliding(doc: tuple[str, int], ptok: int) -> None:
    text, off = doc
    a = window(text, off, prefix=ptok)
    s = window(text, off, prefix=ptok, sliding=True)
    assert a.prefix_start >= s.prefix_start
    if a.prefix_start > 0 and at_line_start(text, s.prefix_start):
        assert at_line_start(text, a.prefix_start)


# --- comments -----------------------------------------------------------------------------------


def test_comment_prefix_per_language() -> None:
    assert comment_prefix("python") == "# "
    assert comment_prefix("shellscript") == "# "
    assert comment_prefix("yaml") == "# "
    assert comment_prefix("toml") == "# "
    assert comment_prefix("ruby") == "# "
    for lang in ("c", "cpp", "java", "javascript", "typescript", "typescriptreact", "go", "rust"):
        assert comment_prefix(lang) == "// "
    for lang in ("lua", "sql", "haskell"):
        assert comment_prefix(lang) == "-- "
    assert comment_prefix("clojure") == "; "
    assert comment_prefix("html") == "<!-- "
    assert comment_prefix("some-unknown-language") == "# "


# --- cross-file context -------------------------------------------------------------------------

UTIL = (
    """\
import json


def parse_config(path):
    with open(path) as fh:
        return json.load(fh)


def unrelated_helper():
    return 42
"""
    + "\n".join(f"# filler line {i}" for i in range(60))
    + """

def load_settings(path, overrides):
    config = parse_config(path)
    config.update(overrides)
    return config
"""
)

OTHER = """\
class Renderer:
    def draw_triangle(self, canvas):
        canvas.polygon(3)
"""

MAIN = """\
from util import parse_config, load_settings

def main(path, overrides):
    settings = load_settings(path, overrides)
    """


def doc(uri: str, text: str, lang: str = "python", touched: float = 1.0) -> OpenDocument:
    return OpenDocument(uri=uri, language_id=lang, text=text, last_touched=touched)


def test_cross_file_picks_relevant_chunks_with_path_comment() -> None:
    others = [doc("file:///proj/src/util.py", UTIL), doc("file:///proj/src/render.py", OTHER)]
    w = window(MAIN, len(MAIN), others=others, cross_file_tokens=600)
    header = w.prompt[: len(w.prompt) - len(w.prefix)]
    assert w.prompt.endswith(w.prefix) and w.prefix == MAIN
    assert "# Path: util.py\n" in header
    assert "def parse_config(path):" in header and "def load_settings" in header
    assert "draw_triangle" not in header and "render.py" not in header
    assert header.endswith("# Path: main.py\n")  # the current file is named right before its text
    assert w.context_uris == ("file:///proj/src/util.py",)
    assert estimate_tokens(header) <= 600


def test_cross_file_budget_is_separate_and_respected() -> None:
    others = [doc("file:///proj/src/util.py", UTIL)]
    for budget in (40, 80, 200):
        w = window(MAIN, len(MAIN), prefix=30, others=others, cross_file_tokens=budget)
        header = w.prompt[: len(w.prompt) - len(w.prefix)]
        assert estimate_tokens(header) <= budget
        assert w.prefix == window(MAIN, len(MAIN), prefix=30).prefix
    assert window(MAIN, len(MAIN), others=others, cross_file_tokens=0).prompt == MAIN
    tiny = window(MAIN, len(MAIN), others=others, cross_file_tokens=5)
    assert tiny.prompt == MAIN and tiny.context_uris == ()


def test_cross_file_order_is_stable_not_by_score() -> None:
    a = doc("file:///proj/a.py", "def load_settings(path):\n    return path\n")
    b = doc(
        "file:///proj/b.py",
        "def load_settings(path, overrides):\n    config = parse_config(path)\n"
        "    config.update(overrides)\n",
    )
    current = "file:///proj/main.py"
    w1 = window(MAIN, len(MAIN), uri=current, others=[a, b], cross_file_tokens=600)
    w2 = window(MAIN, len(MAIN), uri=current, others=[b, a], cross_file_tokens=600)
    assert w1.prompt == w2.prompt
    # b scores higher, but a (smaller uri) comes first
    assert w1.context_uris == ("file:///proj/a.py", "file:///proj/b.py")
    assert w1.prompt.index("# Path: a.py") < w1.prompt.index("# Path: b.py")
    # typing on the cursor line keeps the whole header
    typed = MAIN + "config"
    w3 = window(typed, len(typed), uri=current, others=[a, b], cross_file_tokens=600)
    header1 = w1.prompt[: len(w1.prompt) - len(w1.prefix)]
    assert w3.prompt.startswith(header1)


def test_cross_file_path_comment_uses_current_language() -> None:
    util_ts = "export function parseConfig(path: string) {\n  return JSON.parse(path);\n}\n"
    main_ts = "import { parseConfig } from './util';\nconst cfg = parseConfig(path);\n"
    others = [doc("file:///p/src/util.ts", util_ts, "typescript")]
    w = window(
        main_ts,
        len(main_ts),
        uri="file:///p/src/main.ts",
        language_id="typescript",
        others=others,
        cross_file_tokens=300,
    )
    assert w.prompt.startswith("// Path: util.ts\nexport function parseConfig")
    w = window(
        main_ts,
        len(main_ts),
        uri="file:///p/src/main.lua",
        language_id="lua",
        others=others,
        cross_file_tokens=300,
    )
    assert w.prompt.startswith("-- Path: util.ts\n")
    w = window(
        main_ts,
        len(main_ts),
        uri="file:///p/lib/page.html",
        language_id="html",
        others=others,
        cross_file_tokens=300,
    )
    assert w.prompt.startswith("<!-- Path: ../src/util.ts -->\n")


def test_cross_file_paths_do_not_reveal_far_away_directories() -> None:
    others = [doc("file:///home/alice/.local/lib/python3/site/util.py", UTIL)]
    current = "file:///home/alice/work/clients/acme/src/main.py"
    w = window(MAIN, len(MAIN), uri=current, others=others, cross_file_tokens=600)
    assert "# Path: python3/site/util.py\n" in w.prompt
    assert "alice" not in w.prompt
    near = [doc("file:///home/alice/work/clients/shared/util.py", UTIL)]
    w = window(MAIN, len(MAIN), uri=current, others=near, cross_file_tokens=600)
    assert "# Path: ../../shared/util.py\n" in w.prompt
    assert "alice" not in w.prompt


def test_cross_file_snippets_are_redacted() -> None:
    secret_util = UTIL.replace(
        "import json\n", 'import json\nAPI_KEY = "sk-test-1234567890abcdefghijklmn"\n'
    )
    w = window(
        MAIN,
        len(MAIN),
        others=[doc("file:///proj/src/util.py", secret_util)],
        cross_file_tokens=600,
    )
    assert "def parse_config" in w.prompt
    assert "sk-test-1234567890abcdefghijklmn" not in w.prompt
    assert 'API_KEY = "<redacted>"' in w.prompt


def test_cross_file_skips_current_and_excluded_documents() -> None:
    others = [
        doc("file:///proj/src/main.py", UTIL),  # same uri as the current document
        doc("file:///proj/.env", "parse_config=1\nload_settings=2\noverrides=3\n"),
        doc("file:///proj/keys/server.pem", UTIL),
    ]
    w = window(
        MAIN, len(MAIN), uri="file:///proj/src/main.py", others=others, cross_file_tokens=600
    )
    assert w.prompt == MAIN and w.context_uris == ()


def test_cross_file_prefers_same_language() -> None:
    py = doc("file:///proj/src/util.py", UTIL, "python", touched=1.0)
    js = doc("file:///proj/src/util.js", UTIL, "javascript", touched=99.0)
    w = window(MAIN, len(MAIN), others=[js, py], cross_file_tokens=120)
    assert w.context_uris == ("file:///proj/src/util.py",)


def test_cross_file_chunks_align_to_document_lines() -> None:
    # Whatever the query, the snippet text is a fixed 20-line chunk of the other document.
    big = "".join(f"def helper_{i}(arg):\n    return arg + {i}\n" for i in range(100))
    others = [doc("file:///proj/src/helpers.py", big)]
    lines = big.split("\n")
    for name in ("helper_17", "helper_55"):
        text = f"x = {name}("
        w = window(text, len(text), others=others, cross_file_tokens=400)
        header = w.prompt[: len(w.prompt) - len(w.prefix)]
        body = header.split("# Path: helpers.py\n", 1)[1].rsplit("# Path: main.py\n", 1)[0]
        first_line = lines.index(body.split("\n", 1)[0])
        assert first_line % 20 == 0
        assert f"def {name}(" in body


def test_cross_file_header_ignores_the_half_typed_word() -> None:
    others = [
        doc("file:///proj/src/util.py", UTIL),
        doc("file:///proj/src/render.py", OTHER.replace("canvas", "canvas_settings")),
    ]
    headers = set()
    word = "canvas_settings"
    for i in range(len(word) + 1):
        typed = MAIN + word[:i]
        w = window(typed, len(typed), others=others, cross_file_tokens=600)
        headers.add(w.prompt[: len(w.prompt) - len(w.prefix)])
    assert len(headers) == 1
    # once the word is complete (followed by more text), it does count
    typed = MAIN + word + "."
    w = window(typed, len(typed), others=others, cross_file_tokens=600)
    assert "file:///proj/src/render.py" in w.context_uris


_WORDS = st.sampled_from(["alpha", "beta", "gamma", "delta", "eps", "zeta", "theta", "iota"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_WORDS, max_size=6), min_size=1, max_size=30),
       st.lists(_WORDS, min_size=1, max_size=5))
def test_best_chunks_rank_like_plain_jaccard(chunk_words: list[list[str]],
                                             query_words: list[str]) -> None:
    """Scoring from the postings picks what comparing the query with every chunk picks:
    the best 16 by |q ∩ c| / |q ∪ c|, ties to the earlier chunk, none sharing nothing."""
    from deepseek_fim_lsp.context.chunks import Chunk, add_posting
    from deepseek_fim_lsp.context.crossfile import PER_DOCUMENT_CHUNKS, _best_chunks

    chunks = [Chunk(i, " ".join(ws), frozenset(ws), 1) for i, ws in enumerate(chunk_words)]
    postings: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        add_posting(postings, i, c.idents)
    query = frozenset(query_words)
    plain = sorted(((len(query & c.idents) / len(query | c.idents), c) for c in chunks
                    if query & c.idents), key=lambda t: (-t[0], t[1].index))
    assert _best_chunks(query, chunks, postings) == plain[:PER_DOCUMENT_CHUNKS]
