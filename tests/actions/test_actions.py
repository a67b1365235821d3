"""Code actions without LSP: target ranges, code extraction, re-indentation, edit placement."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from deepseek_fim_lsp import actions as a
from deepseek_fim_lsp.actions import replies as rp
from deepseek_fim_lsp.actions import testfiles as tf
from deepseek_fim_lsp.backends.base import Balance, ChatRequest, ChatResult, FimResult
from deepseek_fim_lsp.config import Settings
from deepseek_fim_lsp.context.tokens import estimate_tokens
from deepseek_fim_lsp.errors import AuthError, RequestRejected
from deepseek_fim_lsp.postprocess import indentation as ind
from deepseek_fim_lsp.usage import Usage, UsageLedger

# --- target ranges -----------------------------------------------------------------------------

PY = (
    "import os\n"
    "\n"
    "\n"
    "class Store:\n"
    "    @cached\n"
    "    def load(self,\n"
    "             path):\n"
    "        data = read(path)\n"
    "\n"
    "        return data\n"
    "\n"
    "    def save(self):\n"
    "        pass\n"
    "\n"
    "\n"
    "x = 1\n"
)


def target(text: str, needle: str, language: str) -> str:
    at = text.index(needle)
    start, end = a.default_range(text, at, at, language)
    return text[start:end]


def test_selection_is_used_as_is() -> None:
    assert a.default_range(PY, 30, 10, "python") == (10, 30)


def test_python_cursor_selects_the_innermost_def_with_decorators_and_multiline_signature(
) -> None:
    assert target(PY, "data = read", "python") == (
        "    @cached\n    def load(self,\n             path):\n        data = read(path)\n\n"
        "        return data")
    assert target(PY, "@cached", "python").startswith("    @cached\n    def load")
    assert target(PY, "pass", "python") == "    def save(self):\n        pass"


def test_python_cursor_outside_any_def_takes_the_line() -> None:
    assert target(PY, "x = 1", "python") == "x = 1"
    assert target(PY, "import os", "python") == "import os"


JS = (
    "// a } in a comment\n"
    "function f(a) {\n"
    "  const s = \"}{\";\n"
    "  if (a) {\n"
    "    return 1;\n"
    "  }\n"
    "  return 2;\n"
    "}\n"
    "\n"
    "class K\n"
    "{\n"
    "  m() { return 3; }\n"
    "}\n"
)


def test_brace_languages_take_the_innermost_block_ignoring_strings_and_comments() -> None:
    assert target(JS, "return 2", "javascript") == JS[JS.index("function"):JS.index("}\n\n") + 1]
    assert target(JS, "return 1", "javascript") == "  if (a) {\n    return 1;\n  }"
    # Allman braces: the header line above the brace belongs to the block
    assert target(JS, "m()", "typescript") == "class K\n{\n  m() { return 3; }\n}"


def test_unknown_language_takes_the_line() -> None:
    text = "a\r\nbb b\r\nc"
    assert target(text, "bb", "markdown") == "bb b"


# --- extraction --------------------------------------------------------------------------------


def test_prefixed_reply_is_code_up_to_the_fence() -> None:
    assert rp.extract_code("x = 1\n```\nThis sets x.\n```py\ny\n```", "python",
                           prefixed=True) == "x = 1"
    assert rp.extract_code("\nx = 1\n", "python", prefixed=True) == "x = 1"


def test_prefixed_reply_that_opens_its_own_block_is_parsed_as_markdown() -> None:
    assert rp.extract_code("```python\nx = 1\n```\n", "python", prefixed=True) == "x = 1"


def test_prose_around_one_block() -> None:
    reply = "Here you go:\n\n```python\ndef f():\n    return 1\n```\n\nThat is all."
    assert rp.extract_code(reply, "python", prefixed=False) == "def f():\n    return 1"


def test_several_blocks_prefers_the_expected_language_then_the_largest() -> None:
    reply = ("```bash\npip install x\n```\n```py\nimport x\n```\n```python\nmore = 1\n```")
    assert rp.extract_code(reply, "python", prefixed=False) == "import x"
    reply = "```\nshort\n```\n```text\na much longer block\nof two lines\n```"
    assert rp.extract_code(reply, "go", prefixed=False) == "a much longer block\nof two lines"


def test_no_fence_is_all_code_and_crlf_is_normalised() -> None:
    assert rp.extract_code("\r\nx := 1\r\ny := 2\r\n", "go", prefixed=False) == "x := 1\ny := 2"


def test_tilde_fences_and_longer_fences() -> None:
    reply = "~~~js\nlet a = 1;\n~~~\n````ts\nlet b = '```';\n````"
    assert rp.extract_code(reply, "typescript", prefixed=False) == "let b = '```';"


# --- re-indentation ----------------------------------------------------------------------------

SPACES4 = ind.IndentStyle(False, 4)


def test_reindent_to_base_with_the_documents_tabs_and_line_endings() -> None:
    code = "if x:\n  y()\n  if z:\n    w()\n"
    out = ind.reindent(code, base="\t", style=ind.IndentStyle(True, 4), eol="\r\n")
    assert out == "\tif x:\r\n\t\ty()\r\n\t\tif z:\r\n\t\t\tw()"


def test_reindent_removes_the_models_absolute_indentation() -> None:
    code = "        a = 1\n        if a:\n            b()"
    assert ind.reindent(code, base="    ", style=SPACES4) == "    a = 1\n    if a:\n        b()"


def test_reindent_first_line_already_in_place() -> None:
    # the model wrote the first line flush left and the rest at their absolute column
    code = "def f():\n        return 1\n"
    assert ind.reindent(code, base="    ", style=SPACES4, first_line_indented=False) == \
        "def f():\n        return 1"
    # a relative answer gets the same result
    assert ind.reindent("def f():\n    return 1", base="    ", style=SPACES4,
                        first_line_indented=False) == "def f():\n        return 1"


def test_reindent_tabs_from_the_model_become_spaces_of_the_documents_step() -> None:
    assert ind.reindent("if x {\n\ty()\n}", base="", style=ind.IndentStyle(False, 2)) == \
        "if x {\n  y()\n}"


def test_reindent_keeps_blank_lines_empty_and_drops_outer_blank_lines() -> None:
    assert ind.reindent("\n\na\n\n   \nb\n\n", base="  ", style=SPACES4) == "  a\n\n\n  b"


def test_detect_indent() -> None:
    assert ind.detect_indent("a\n\tb\n\t\tc\n") == ind.IndentStyle(True, 4)
    assert ind.detect_indent("a {\n  b {\n    c\n  }\n}\n") == ind.IndentStyle(False, 2)
    assert ind.detect_indent("no indentation") == ind.IndentStyle(False, 4)


def test_eol_of() -> None:
    assert (ind.eol_of("a\r\nb\nc"), ind.eol_of("a\nb"), ind.eol_of("a"), ind.eol_of("a\rb")) == \
        ("\r\n", "\n", "\n", "\r")


# --- test file conventions ---------------------------------------------------------------------


def test_test_file_conventions(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    assert tf.test_file_for(pkg / "mod.py", "python", tmp_path) == pkg / "test_mod.py"
    (tmp_path / "tests").mkdir()
    assert tf.test_file_for(pkg / "mod.py", "python", tmp_path) == tmp_path / "tests" / \
        "test_mod.py"
    assert tf.test_file_for(pkg / "calc.go", "go", tmp_path) == pkg / "calc_test.go"
    assert tf.test_file_for(pkg / "ui.tsx", "typescriptreact", tmp_path) == pkg / "ui.test.tsx"
    assert tf.test_file_for(pkg / "x.js", "javascript", tmp_path) == pkg / "x.test.js"
    assert tf.test_file_for(pkg / "x.rb", "ruby", tmp_path) is None
    assert tf.test_file_for(pkg / "test_mod.py", "python", tmp_path) is None
    assert tf.python_module(tmp_path / "src" / "pkg" / "mod.py", tmp_path) == "pkg.mod"


# --- whole actions with a scripted backend ------------------------------------------------------


class FakeBackend:
    """Answers chat requests from a script; remembers what it was asked."""

    def __init__(self, *answers: ChatResult | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def fim(self, *args: object, **kw: object) -> FimResult:
        raise NotImplementedError

    async def models(self) -> list[str]:
        return []

    async def balance(self) -> Balance:
        return Balance(True)

    async def aclose(self) -> None:
        pass


def reply(text: str, finish: str = "stop") -> ChatResult:
    return ChatResult(text, finish, Usage(10, 90, 20))


def request(kind: a.ActionKind, text: str, start: int, end: int, language: str = "python",
            **kw: object) -> a.ActionRequest:
    return a.ActionRequest(kind=kind, uri="file:///w/m.py", text=text, language_id=language,
                           start=start, end=end, version=3, **kw)  # type: ignore[arg-type]


def apply(text: str, changes: Sequence[a.TextChange]) -> str:
    for c in sorted(changes, key=lambda c: c.start, reverse=True):
        text = text[:c.start] + c.new_text + text[c.end:]
    return text


async def run(req: a.ActionRequest, backend: FakeBackend,
              ledger: UsageLedger | None = None) -> a.Outcome:
    return await a.run_action(req, backend, Settings(api_key="sk-test-x"),
                              ledger or UsageLedger())


CLS = "class A:\n    def f(self, x):\n        return x\n"


async def test_docstring_goes_inside_the_def_at_body_indentation() -> None:
    start = CLS.index("    def")
    backend = FakeBackend(reply('"""Return ``x``.\n\nArgs:\n    x: anything.\n"""'))
    out = await run(request("document", CLS, start, len(CLS) - 1), backend)
    (f,) = out.files
    assert apply(CLS, f.changes) == (
        'class A:\n    def f(self, x):\n        """Return ``x``.\n\n        Args:\n'
        '            x: anything.\n        """\n        return x\n')
    assert f.version == 3
    assert backend.requests[0].messages[-1].prefix


async def test_docstring_replaces_an_existing_one_and_accepts_a_whole_function() -> None:
    text = 'def f():\n    """Old."""\n    return 1\n'
    backend = FakeBackend(reply('def f():\n    """New words."""\n    return 1\n'))
    out = await run(request("document", text, 0, len(text)), backend)
    assert apply(text, out.files[0].changes) == 'def f():\n    """New words."""\n    return 1\n'


async def test_bare_docstring_text_gets_quotes() -> None:
    text = "def f():\n    return 1\n"
    out = await run(request("document", text, 0, 0), FakeBackend(reply("Return one.")))
    assert apply(text, out.files[0].changes) == 'def f():\n    """Return one."""\n    return 1\n'


async def test_doc_comment_goes_above_for_other_languages() -> None:
    text = "\tfunc (s *S) Len() int {\r\n\t\treturn s.n\r\n\t}\r\n"
    backend = FakeBackend(reply("// Len reports the size.\nfunc (s *S) Len() int {\n"))
    out = await run(request("document", text, 0, len(text), "go"), backend)
    assert apply(text, out.files[0].changes) == "\t// Len reports the size.\r\n" + text


async def test_truncated_reply_raises_and_changes_nothing() -> None:
    ledger = UsageLedger()
    with pytest.raises(a.TruncatedReply, match="cut off"):
        await run(request("rewrite", CLS, 0, len(CLS)), FakeBackend(reply("class A:\n", "length")),
                  ledger)
    assert ledger.session.chatRequests == 1  # the tokens were still spent


async def test_empty_reply_is_an_error() -> None:
    with pytest.raises(a.EmptyReply):
        await run(request("fix", CLS, 0, 5), FakeBackend(reply("\n```")))


async def test_prefix_refusal_falls_back_to_plain_chat_once() -> None:
    backend = FakeBackend(RequestRejected(404, "Not Found"),
                          reply("Fixed:\n```python\nclass B:\n    pass\n```\nDone."))
    out = await run(request("fix", CLS, 0, len(CLS) - 1, diagnostic="bad name"), backend)
    assert apply(CLS, out.files[0].changes) == "class B:\n    pass\n"
    first, second = backend.requests
    assert first.stop == ("```",) and first.messages[-1].prefix
    assert second.stop == () and not any(m.prefix for m in second.messages)
    assert "bad name" in second.messages[1].content


async def test_other_errors_pass_through_unchanged() -> None:
    backend = FakeBackend(AuthError("no"))
    with pytest.raises(AuthError):
        await run(request("rewrite", CLS, 0, 5), backend)
    assert len(backend.requests) == 1


async def test_rewrite_of_a_partial_line_keeps_what_surrounds_it() -> None:
    text = "total = price * qty + tax\n"
    start, end = text.index("price"), text.index(" + tax")
    backend = FakeBackend(reply("mul(price, qty)\n"))
    out = await run(request("rewrite", text, start, end, instruction="use a call"), backend)
    assert apply(text, out.files[0].changes) == "total = mul(price, qty) + tax\n"
    assert "use a call" in backend.requests[0].messages[1].content


async def test_prompt_carries_instruction_marked_selection_and_budgeted_context() -> None:
    filler = "".join(f"line_{i} = {i}\n" for i in range(3000))
    text = filler + "def target():\n    return 0\n" + filler
    start = text.index("def target")
    end = text.index("    return 0\n") + len("    return 0")
    backend = FakeBackend(reply("def target():\n    return 1\n"))
    await run(request("rewrite", text, start, end, instruction="return one"), backend)
    user = backend.requests[0].messages[1].content
    assert "return one" in user
    assert "<<<SELECTION>>>def target():\n    return 0<<<END SELECTION>>>" in user
    assert "line_2999 = 2999" in user and "line_0 = 0\n" not in user[:200]
    assert 2500 < estimate_tokens(user) < 4000


async def test_tests_new_file_needs_create_support(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    text = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    code = "from m import f\n\n\ndef test_f():\n    assert f() == 1\n"
    common = dict(path=src, root=tmp_path, read=lambda uri: None)
    out = await run(request("tests", text, 0, 21, can_create=True, **common),
                    FakeBackend(reply(code)))
    (f,) = out.files
    assert f.create and f.uri == (tmp_path / "test_m.py").as_uri()
    assert apply("", f.changes) == code
    # without CreateFile support the tests go below the code, before the next definition
    out = await run(request("tests", text, 0, 21, can_create=False, **common),
                    FakeBackend(reply(code)))
    (f,) = out.files
    assert f.uri == "file:///w/m.py" and not f.create
    assert apply(text, f.changes) == (
        "def f():\n    return 1\n\n\n" + code + "\n\ndef g():\n    return 2\n")


async def test_tests_below_the_last_definition_of_a_file_without_final_newline() -> None:
    text = "function f() {\n  return 1;\n}"
    out = await run(request("tests", text, 0, len(text), "ruby"),
                    FakeBackend(reply("test('f', () => {});\n")))
    assert apply(text, out.files[0].changes) == text + "\n\ntest('f', () => {});\n"


async def test_explain_returns_markdown_and_notes_a_cut_off(tmp_path: Path) -> None:
    backend = FakeBackend(reply("## Purpose\nIt adds.", "length"))
    out = await run(request("explain", CLS, 0, len(CLS)), backend)
    assert out.files == () and out.markdown is not None
    assert out.markdown.startswith("## Purpose\nIt adds.") and "cut off" in out.markdown
    assert not any(m.prefix for m in backend.requests[0].messages)
    path = a.write_explanation(out.markdown, name="m.py", first_line=1, last_line=3,
                               directory=tmp_path)
    assert path == tmp_path / "explanations" / "m.py-L1-3.md"
    assert path.read_text("utf-8").endswith(out.markdown)


def test_cache_dir_from_environment(tmp_path: Path) -> None:
    assert a.cache_dir({"DEEPSEEK_FIM_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert a.cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/deepseek-fim-lsp")


async def test_one_line_def_gets_a_comment_above_not_a_broken_docstring() -> None:
    text = "def one(): return 1\n\n\ndef two():\n    return 2\n"
    out = await run(request("document", text, 0, 19), FakeBackend(reply("# Return one.\n")))
    assert apply(text, out.files[0].changes) == "# Return one.\n" + text


async def test_secrets_in_the_context_are_redacted_but_the_selection_is_not() -> None:
    text = 'DB_PASSWORD = "hunter2hunter2!"\n\n\ndef f():\n    return connect()\n'
    start = text.index("def f")
    backend = FakeBackend(reply("def f():\n    return connect(timeout=5)\n"))
    await run(request("rewrite", text, start, len(text) - 1), backend)
    user = backend.requests[0].messages[1].content
    assert "hunter2hunter2!" not in user and "DB_PASSWORD" in user
    assert "def f():\n    return connect()<<<END SELECTION>>>" in user


async def test_chat_settings_reach_the_request() -> None:
    backend = FakeBackend(reply("x = 2\n"))
    settings = Settings(api_key="sk-test-x", chat_model="deepseek-v4-pro", chat_thinking=True,
                        chat_max_tokens=1234)
    await a.run_action(request("rewrite", "x = 1\n", 0, 5), backend, settings, UsageLedger())
    (req,) = backend.requests
    assert (req.model, req.thinking, req.max_tokens) == ("deepseek-v4-pro", True, 1234)
    assert req.messages[-1].content == "```python\n" and req.stop == ("```",)
