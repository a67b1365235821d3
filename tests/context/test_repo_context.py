"""Repository context: workspace rules, import resolution per language, definitions, selection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deepseek_fim_lsp.context import repo
from deepseek_fim_lsp.context.definitions import parse_facts
from deepseek_fim_lsp.context.identifiers import cursor_identifiers
from deepseek_fim_lsp.context.imports import resolve_imports
from deepseek_fim_lsp.context.repo import RepoIndex, render
from deepseek_fim_lsp.context.workspace import Workspace, project_root


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def targets(root: Path, current: str, language: str) -> list[tuple[str, tuple[str, ...]]]:
    path = str(root / current)
    facts = parse_facts((root / current).read_text(), language)
    assert facts is not None
    found = resolve_imports(path, facts, Workspace([str(root)]))
    return [(os.path.relpath(p, root), names) for p, names in found]


# --- workspace -------------------------------------------------------------------------------


def test_workspace_reads_only_what_the_rules_allow(tmp_path: Path) -> None:
    ws_root, outside = tmp_path / "ws", tmp_path / "outside"
    write(ws_root, {
        "a.py": "x = 1\n", ".env": "TOKEN=abc\n", "node_modules/m/index.js": "x\n",
        "gen/out.py": "x\n", ".gitignore": "gen/\n*.log\n", "sub/.gitignore": "local.py\n",
        "sub/local.py": "x\n", "sub/kept.py": "x\n", "debug.log": "x\n",
        "build/lib.py": "x\n",
    })
    write(outside, {"secret.py": "KEY = 1\n"})
    (ws_root / "link.py").symlink_to(outside / "secret.py")
    (ws_root / "big.py").write_text("x" * 1_000_001)
    (ws_root / "bin.py").write_bytes(b"x\x00y")
    ws = Workspace([str(ws_root)], exclude=(".env",))
    assert ws.read(str(ws_root / "a.py")) == "x = 1\n"
    assert ws.read(str(ws_root / "sub/kept.py")) == "x\n"
    for name in (".env", "node_modules/m/index.js", "gen/out.py", "sub/local.py", "debug.log",
                 "build/lib.py", "link.py", "big.py", "bin.py"):
        assert ws.read(str(ws_root / name)) is None, name
    assert ws.read(str(outside / "secret.py")) is None


def test_project_root_is_the_nearest_marker(tmp_path: Path) -> None:
    write(tmp_path, {"p/pyproject.toml": "", "p/src/m/a.py": "", "loose/b.py": ""})
    assert project_root(str(tmp_path / "p/src/m/a.py")) == str(tmp_path / "p")
    # no marker up to / in a temp dir is unlikely to hold; the folder is the fallback
    root = project_root(str(tmp_path / "loose/b.py"))
    assert str(tmp_path / "loose").startswith(root)


# --- import resolution -----------------------------------------------------------------------


def test_python_relative_absolute_packages_and_src_layout(tmp_path: Path) -> None:
    write(tmp_path, {
        "src/app/__init__.py": "", "src/app/util.py": "def helper(): ...\n",
        "src/app/sub/__init__.py": "", "src/app/sub/mod.py": "",
        "src/app/models/__init__.py": "class Model: ...\n",
        "src/app/main.py": (
            "from .util import helper\nfrom . import sub\nimport app.models\n"
            "from app.sub import mod\nimport os\n"
        ),
    })
    found = dict(targets(tmp_path, "src/app/main.py", "python"))
    assert found["src/app/util.py"] == ("helper",)
    assert found["src/app/sub/__init__.py"] == ()
    assert found["src/app/models/__init__.py"] == ()
    assert "src/app/sub/mod.py" in found
    assert all("os" not in p for p in found)


def test_typescript_relative_index_js_to_ts_and_tsconfig_paths(tmp_path: Path) -> None:
    write(tmp_path, {
        "tsconfig.json": (
            '{ // comment\n "compilerOptions": { "baseUrl": "src", "paths": {"@lib/*": '
            '["lib/*"]}, }, }'
        ),
        "src/lib/math.ts": "export function add(a: number, b: number): number { return a }\n",
        "src/util/index.ts": "export const u = 1\n",
        "src/esm.ts": "export const e = 1\n",
        "src/plain.ts": "export const p = 1\n",
        "src/main.ts": (
            'import { add } from "@lib/math";\nimport { u } from "./util";\n'
            'import { e } from "./esm.js";\nimport { p } from "plain";\n'
            'import React from "react";\n'
        ),
    })
    found = dict(targets(tmp_path, "src/main.ts", "typescript"))
    assert found == {
        "src/lib/math.ts": ("add",), "src/util/index.ts": ("u",), "src/esm.ts": ("e",),
        "src/plain.ts": ("p",),
    }


def test_go_package_directory_and_module_imports(tmp_path: Path) -> None:
    write(tmp_path, {
        "go.mod": "module example.com/shop\n\ngo 1.22\n",
        "internal/cart/cart.go": "package cart\nfunc Total() int { return 0 }\n",
        "internal/cart/cart_test.go": "package cart\n",
        "cmd/main.go": (
            'package main\nimport (\n  "fmt"\n  "example.com/shop/internal/cart"\n)\n'
        ),
        "cmd/helpers.go": "package main\nfunc help() {}\n",
    })
    found = dict(targets(tmp_path, "cmd/main.go", "go"))
    assert found == {"internal/cart/cart.go": (), "cmd/helpers.go": ()}


def test_rust_mod_crate_and_super(tmp_path: Path) -> None:
    write(tmp_path, {
        "Cargo.toml": "[package]\nname = 'x'\n",
        "src/lib.rs": "mod net;\npub mod util;\n",
        "src/net/mod.rs": "pub mod http;\n",
        "src/net/http.rs": "use crate::util::parse;\nuse super::Conn;\n",
        "src/util.rs": "pub fn parse() {}\n",
    })
    assert dict(targets(tmp_path, "src/lib.rs", "rust")) == {
        "src/net/mod.rs": (), "src/util.rs": ()}
    assert dict(targets(tmp_path, "src/net/http.rs", "rust")) == {
        "src/util.rs": ("parse",), "src/net/mod.rs": ("Conn",)}


def test_java_same_package_and_imports_and_c_includes(tmp_path: Path) -> None:
    write(tmp_path, {
        "src/com/shop/Cart.java": "package com.shop;\nimport com.shop.model.Item;\nclass Cart {}\n",
        "src/com/shop/Order.java": "package com.shop;\nclass Order {}\n",
        "src/com/shop/model/Item.java": "package com.shop.model;\npublic class Item {}\n",
        "c/main.c": '#include "util.h"\n#include <stdio.h>\n',
        "c/util.h": "int util(int x);\n",
    })
    assert dict(targets(tmp_path, "src/com/shop/Cart.java", "java")) == {
        "src/com/shop/model/Item.java": (), "src/com/shop/Order.java": ()}
    assert dict(targets(tmp_path, "c/main.c", "c")) == {"c/util.h": ()}


def test_imports_never_lead_outside_the_workspace(tmp_path: Path) -> None:
    write(tmp_path, {"other/evil.py": "def build(): ...\n", "ws/pkg/__init__.py": "",
                     "ws/pkg/main.py": "from ...other.evil import build\nimport evil\n"})
    (tmp_path / "ws/evil.py").symlink_to(tmp_path / "other/evil.py")
    path = str(tmp_path / "ws/pkg/main.py")
    facts = parse_facts((tmp_path / "ws/pkg/main.py").read_text(), "python")
    assert facts is not None
    assert resolve_imports(path, facts, Workspace([str(tmp_path / "ws")])) == []


# --- definitions -----------------------------------------------------------------------------


def test_definitions_carry_signature_decorators_docstring_and_small_types_whole() -> None:
    src = (
        "import functools\n\n@functools.cache\ndef area(w: int, h: int) -> int:\n"
        '    """Area of a rectangle.\n\n    In square units.\n    More.\n    """\n'
        "    return w * h\n\nclass Point:\n    x: int\n    y: int\n"
    )
    facts = parse_facts(src, "python")
    assert facts is not None
    defs = {d.name: d for d in facts.definitions}
    assert defs["area"].text.startswith("@functools.cache\ndef area(w: int, h: int) -> int:\n")
    assert '"""Area of a rectangle.' in defs["area"].text
    assert "return w * h" not in defs["area"].text
    assert defs["Point"].text == "class Point:\n    x: int\n    y: int\n"


def test_typescript_definitions_with_doc_comments() -> None:
    src = (
        "/** Adds. */\nexport function add(a: number, b: number): number {\n  return a + b\n}\n"
        "export interface Opts { retries: number }\nexport class Client {\n"
        "  send(req: Opts): void {}\n}\n"
    )
    facts = parse_facts(src, "typescript")
    assert facts is not None
    defs = {d.name: d for d in facts.definitions}
    assert defs["add"].text == "/** Adds. */\nexport function add(a: number, b: number): number {\n"
    assert defs["Opts"].text == "export interface Opts { retries: number }\n"
    assert defs["send"].container == "Client"


# --- selection -------------------------------------------------------------------------------


def test_cursor_identifiers_put_the_call_being_typed_first() -> None:
    text = "total = compute(x)\nitems = load()\nr = build_request(meth"
    ids = cursor_identifiers(text, len(text))
    assert ids[0] == "build_request"
    assert "meth" not in ids  # half-typed
    assert ids.index("load") < ids.index("compute")


def test_selection_fits_the_budget_in_path_then_line_order(tmp_path: Path) -> None:
    write(tmp_path, {
        "pyproject.toml": "",
        "app/__init__.py": "",
        "app/b.py": "def beta(x):\n    return x\n\ndef gamma(y):\n    return y\n",
        "app/a.py": "def alpha():\n    pass\n",
        "app/main.py": (
            "from .b import beta, gamma\nfrom .a import alpha\n\nalpha()\ngamma(1)\nbeta("),
    })
    ix = RepoIndex(Workspace([str(tmp_path)]))
    path = str(tmp_path / "app/main.py")
    text = (tmp_path / "app/main.py").read_text()
    snippets = ix.select(path, text, len(text), "python", 800)
    assert [(os.path.basename(s.path), s.line) for s in snippets] == [
        ("a.py", 0), ("b.py", 0), ("b.py", 3)]
    header = render(snippets, "file://" + path, "python")
    assert header.startswith("# Path: a.py\ndef alpha():\n# Path: b.py\ndef beta(x):\n")
    small = ix.select(path, text, len(text), "python", 20)
    assert [s.text for s in small] == ["def beta(x):\n"]  # the call being typed wins
    assert ix.select(path, text, len(text), "python", 0) == []


def test_index_is_keyed_by_mtime_and_size_and_open_text_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"pyproject.toml": "", "m.py": "def one(): ...\n",
                     "main.py": "from m import one, two\none("})
    ix = RepoIndex(Workspace([str(tmp_path)]))
    path, text = str(tmp_path / "main.py"), "from m import one, two\ntwo(); one("
    assert [s.text for s in ix.select(path, text, len(text), "python", 800)] == [
        "def one(): ...\n"]
    reads = ix.files_read
    ix.select(path, text, len(text), "python", 800)
    assert ix.files_read == reads  # warm: nothing re-read
    (tmp_path / "m.py").write_text("def one(): ...\ndef two(a): ...\n")
    ix.forget(str(tmp_path / "m.py"))  # a save: re-read at once
    assert len(ix.select(path, text, len(text), "python", 800)) == 2
    (tmp_path / "m.py").write_text("def one(): ...\ndef two(a, b): ...\n")
    monkeypatch.setattr(repo, "STAT_INTERVAL_S", 0.0)  # a change on disk: seen at the next stat
    assert "def two(a, b)" in "".join(
        s.text for s in ix.select(path, text, len(text), "python", 800))
    opened = {str(tmp_path / "m.py"): "def two(edited): ...\n"}
    got = ix.select(path, text, len(text), "python", 800, opened)
    assert [s.text for s in got] == ["def two(edited): ...\n"]


# --- recent edits and the chunk index --------------------------------------------------------


def test_recent_edits_newest_first_merged_nearby_and_never_the_current_document() -> None:
    from deepseek_fim_lsp.context.recent_edits import RecentEdits
    from deepseek_fim_lsp.context.tokens import estimate_tokens

    edits = RecentEdits()
    a = "".join(f"a{i} = {i}\n" for i in range(50))
    edits.record("file:///a.py", a, a.index("a10"), a.index("a10") + 1, 10)
    edits.record("file:///a.py", a, a.index("a11"), a.index("a11") + 2, 11)  # the same edit
    b = "def f():\n    return 1\n"
    edits.record("file:///b.py", b, 9, 10, 1)
    got = edits.for_prompt("file:///c.py", 200, lambda u: True, estimate_tokens)
    assert [(e.uri, e.first_line) for e in got] == [("file:///b.py", 0), ("file:///a.py", 10)]
    assert got[1].text == "a10 = 10\na11 = 11\na12 = 12\na13 = 13\n"
    assert [e.uri for e in edits.for_prompt("file:///b.py", 200, lambda u: True,
                                            estimate_tokens)] == ["file:///a.py"]
    assert edits.for_prompt("file:///c.py", 200, lambda u: "b.py" not in u,
                            estimate_tokens)[0].uri == "file:///a.py"
    assert edits.for_prompt("file:///c.py", 5, lambda u: True, estimate_tokens) == []


def test_chunk_index_redacts_only_chosen_chunks_with_context_and_skips_private_keys() -> None:
    from deepseek_fim_lsp.context.chunks import ChunkIndex
    from deepseek_fim_lsp.context.crossfile import _STOPWORDS
    from deepseek_fim_lsp.context.tokens import cost10

    ix = ChunkIndex(2, _STOPWORDS, cost10)
    text = "x = 1\nAUTH_TOKEN=\\\nabc\npassword = 'hunter2secret9'\ny = 2\n"
    chunks = ix.chunks("file:///s.py", text, deadline=float("inf"))
    assert [c.index for c in chunks] == [0, 1, 2]
    assert "hunter2secret9" in chunks[1].raw  # raw until chosen
    assert "hunter2secret9" not in ix.redacted("file:///s.py", chunks[1])
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8Pb\n"
    assert ix.chunks("file:///k.py", key, deadline=float("inf")) == []
    # a request past its indexing budget takes what is indexed so far; the next one goes on
    big = "".join(f"name_{i} = {i}\n" for i in range(100))
    first = len(ix.chunks("file:///big.py", big, deadline=0.0))
    assert first == 1
    assert len(ix.chunks("file:///big.py", big, deadline=float("inf"))) == 50


def test_re_exports_are_followed_one_hop(tmp_path: Path) -> None:
    write(tmp_path, {
        "package.json": "{}",
        "src/codegen/code.ts": (
            "export function and(...args: Code[]): Code {\n  return args[0]\n}\n"),
        "src/codegen/index.ts": 'export { and } from "./code"\nexport * from "./more"\n',
        "src/codegen/more.ts": "export interface Code { s: string }\n",
        "src/main.ts": 'import { and, Code } from "./codegen"\n\nconst c: Code = and(',
        "py/pkg/__init__.py": "from ._client import Client\n",
        "py/pkg/_client.py": "class Client:\n    def send(self, request): ...\n",
        "py/app.py": "from pkg import Client\n\nClient().send(",
    })
    ix = RepoIndex(Workspace([str(tmp_path)]))
    ts = (tmp_path / "src/main.ts").read_text()
    got = ix.select(str(tmp_path / "src/main.ts"), ts, len(ts), "typescript", 800)
    assert [(os.path.basename(s.path), s.text.split("\n")[0]) for s in got] == [
        ("code.ts", "export function and(...args: Code[]): Code {"),
        ("more.ts", "export interface Code { s: string }")]
    py = (tmp_path / "py/app.py").read_text()
    got = ix.select(str(tmp_path / "py/app.py"), py, len(py), "python", 800)
    assert any("def send(self, request)" in s.text for s in got)


def test_python_imports_under_type_checking_before_the_first_definition(tmp_path: Path) -> None:
    write(tmp_path, {
        "pyproject.toml": "", "pkg/__init__.py": "",
        "pkg/models.py": "class URL:\n    def join(self, other: str) -> 'URL': ...\n",
        "pkg/utils.py": (
            "import typing\n\nif typing.TYPE_CHECKING:\n    from .models import URL\n\n\n"
            "def parse(u: 'URL') -> None:\n    u.join("),
    })
    ix = RepoIndex(Workspace([str(tmp_path)]))
    path, text = str(tmp_path / "pkg/utils.py"), (tmp_path / "pkg/utils.py").read_text()
    got = ix.select(path, text, len(text), "python", 800)
    assert [os.path.basename(s.path) for s in got] == ["models.py"]
    assert "def join(self, other: str)" in got[0].text
