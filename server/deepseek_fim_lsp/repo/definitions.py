"""A file's imports and top-level definitions, from tree-sitter queries (regex without a grammar).

Queries start at depth 1 (``set_max_start_depth``) so that a 5,000-line file costs well under a
millisecond to query once parsed: top-level statements, plus the members of top-level classes,
impl blocks and exported declarations. Each definition is rendered once, here, as the text that
may go into a prompt: decorators and the signature (up to the body), the docstring's or leading
comment's first lines, and a small type (class/struct/interface/enum/type alias) whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import tree_sitter

from .grammars import language_for, parser_for

__all__ = ["Definition", "FileFacts", "ImportRef", "facts_of", "parse_facts"]

#: Small types are shown whole up to this many lines.
SMALL_TYPE_LINES = 25
#: Lines of a docstring or leading comment kept.
DOC_LINES = 3
#: A signature longer than this many lines is cut.
SIGNATURE_LINES = 8


@dataclass(frozen=True)
class ImportRef:
    """One import as written: ``spec`` is the module/path, ``names`` what it brings in."""

    spec: str
    names: tuple[str, ...] = ()
    level: int = 0  # Python: leading dots of a relative import
    kind: str = "import"  # "mod" for Rust `mod x;`, "include" for C


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # "function", "type", "method", "variable"
    line: int  # 0-based first line (decorators/comments included)
    text: str  # what a prompt shows, ending in "\n"
    container: str = ""  # enclosing class/impl name for members


@dataclass(frozen=True)
class FileFacts:
    language: str
    imports: tuple[ImportRef, ...]
    definitions: tuple[Definition, ...]
    package: str = ""  # Java `package`, Go `package`


_Q = {
    "python": (
        "[(import_statement) (import_from_statement)] @imp",
        """
        [(function_definition) (class_definition) (decorated_definition)] @def
        (expression_statement (assignment left: (identifier))) @def
        (class_definition body: (block [(function_definition) (decorated_definition)] @def))
        """,
    ),
    "javascript": (
        """
        [(import_statement) (export_statement source: (string))] @imp
        (lexical_declaration (variable_declarator value: (call_expression
            function: (identifier) @_f (#eq? @_f "require")))) @imp
        """,
        """
        [(function_declaration) (class_declaration) (lexical_declaration)] @def
        (export_statement declaration: [(function_declaration) (class_declaration)
            (lexical_declaration)] @def)
        (class_declaration body: (class_body (method_definition) @def))
        (export_statement declaration: (class_declaration body: (class_body
            (method_definition) @def)))
        """,
    ),
    "typescript": (
        """
        [(import_statement) (export_statement source: (string))] @imp
        (lexical_declaration (variable_declarator value: (call_expression
            function: (identifier) @_f (#eq? @_f "require")))) @imp
        """,
        """
        [(function_declaration) (class_declaration) (abstract_class_declaration)
         (lexical_declaration) (interface_declaration) (type_alias_declaration)
         (enum_declaration) (function_signature)] @def
        (export_statement declaration: [(function_declaration) (class_declaration)
            (abstract_class_declaration) (lexical_declaration) (interface_declaration)
            (type_alias_declaration) (enum_declaration) (function_signature)] @def)
        (class_declaration body: (class_body
            [(method_definition) (method_signature) (abstract_method_signature)] @def))
        (abstract_class_declaration body: (class_body
            [(method_definition) (method_signature) (abstract_method_signature)] @def))
        (export_statement declaration: (class_declaration body: (class_body
            [(method_definition) (method_signature) (abstract_method_signature)] @def)))
        (export_statement declaration: (abstract_class_declaration body: (class_body
            [(method_definition) (method_signature) (abstract_method_signature)] @def)))
        """,
    ),
    "go": (
        "(import_declaration) @imp",
        """
        [(function_declaration) (method_declaration) (type_declaration) (const_declaration)
         (var_declaration)] @def
        """,
    ),
    "rust": (
        "[(use_declaration) (mod_item)] @imp",
        """
        [(function_item) (struct_item) (enum_item) (trait_item) (type_item) (const_item)
         (static_item) (macro_definition)] @def
        (impl_item body: (declaration_list (function_item) @def))
        """,
    ),
    "java": (
        "[(import_declaration) (package_declaration)] @imp",
        """
        [(class_declaration) (interface_declaration) (enum_declaration) (record_declaration)] @def
        (class_declaration body: (_ [(method_declaration) (constructor_declaration)] @def))
        (enum_declaration body: (_ [(method_declaration) (constructor_declaration)] @def))
        (record_declaration body: (_ [(method_declaration) (constructor_declaration)] @def))
        (interface_declaration body: (_ (method_declaration) @def))
        """,
    ),
    "c": (
        "(preproc_include) @imp",
        """
        [(function_definition) (declaration) (struct_specifier) (enum_specifier)
         (type_definition) (preproc_def) (preproc_function_def)] @def
        """,
    ),
    "cpp": (
        "(preproc_include) @imp",
        """
        [(function_definition) (declaration) (struct_specifier) (enum_specifier)
         (class_specifier) (type_definition) (preproc_def) (preproc_function_def)
         (alias_declaration)] @def
        (namespace_definition body: (declaration_list [(function_definition) (declaration)
            (class_specifier) (struct_specifier)] @def))
        """,
    ),
}
_Q["javascriptreact"] = _Q["javascript"]
_Q["typescriptreact"] = _Q["typescript"]

_TYPE_KINDS = frozenset(
    """
    class_definition class_declaration abstract_class_declaration interface_declaration
    type_alias_declaration enum_declaration struct_item enum_item trait_item type_item
    type_declaration record_declaration struct_specifier enum_specifier class_specifier
    type_definition alias_declaration
    """.split()
)
_COMMENTS = frozenset(("comment", "line_comment", "block_comment"))
_MEMBER_KINDS = frozenset(
    "method_definition method_signature abstract_method_signature method_declaration "
    "constructor_declaration".split()
)


@cache
def _queries(language_id: str) -> tuple[tree_sitter.Query, tree_sitter.Query] | None:
    lang = language_for(language_id)
    src = _Q.get(language_id)
    if lang is None or src is None:
        return None
    return tree_sitter.Query(lang, src[0]), tree_sitter.Query(lang, src[1])


def _captures(
    query: tree_sitter.Query, node: tree_sitter.Node, name: str
) -> list[tree_sitter.Node]:
    cursor = tree_sitter.QueryCursor(query)
    cursor.set_max_start_depth(1)
    nodes = cursor.captures(node).get(name, [])
    return sorted(nodes, key=lambda n: n.start_byte)


def _text(node: tree_sitter.Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def _unquote(s: str) -> str:
    return s.strip().strip("\"'`<>")


# --- imports ---------------------------------------------------------------------------------


def _python_import(node: tree_sitter.Node) -> list[ImportRef]:
    if node.type == "import_statement":
        out = []
        for n in node.children_by_field_name("name"):
            target = n.child_by_field_name("name") if n.type == "aliased_import" else n
            out.append(ImportRef(_text(target)))
        return out
    module = node.child_by_field_name("module_name")
    level, spec = 0, _text(module)
    if module is not None and module.type == "relative_import":
        prefix = next((c for c in module.children if c.type == "import_prefix"), None)
        level = len(_text(prefix))
        spec = _text(next((c for c in module.children if c.type == "dotted_name"), None))
    names = []
    for n in node.children_by_field_name("name"):
        target = n.child_by_field_name("name") if n.type == "aliased_import" else n
        names.append(_text(target))
    return [ImportRef(spec, tuple(names), level)]


def _js_import(node: tree_sitter.Node) -> list[ImportRef]:
    if node.type == "lexical_declaration":
        out = []
        for call in _descendants(node, "call_expression"):
            args = call.child_by_field_name("arguments")
            strings = [c for c in (args.named_children if args else []) if c.type == "string"]
            if strings:
                bound = [_text(n) for n in _descendants(node, "identifier")
                         if n.parent is not None and n.parent.type != "call_expression"]
                out.append(ImportRef(_unquote(_text(strings[0])), tuple(bound)))
        return out
    source = node.child_by_field_name("source")
    names: list[str] = []
    for n in _descendants(node, "import_specifier", "export_specifier"):
        names.append(_text(n.child_by_field_name("name")))
    clause = next((c for c in node.children if c.type == "import_clause"), None)
    if clause is not None:
        names += [_text(c) for c in clause.children if c.type == "identifier"]
    return [ImportRef(_unquote(_text(source)), tuple(names))]


def _descendants(node: tree_sitter.Node, *types: str) -> list[tree_sitter.Node]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.type in types:
            out.append(n)
        stack.extend(reversed(n.named_children))
    return out


def _go_import(node: tree_sitter.Node) -> list[ImportRef]:
    out = []
    for spec in _descendants(node, "import_spec"):
        alias = _text(spec.child_by_field_name("name"))
        out.append(ImportRef(_unquote(_text(spec.child_by_field_name("path"))),
                             (alias,) if alias else ()))
    return out


def _rust_paths(node: tree_sitter.Node, base: str) -> list[tuple[str, str]]:
    """(path, leaf name) pairs of a use tree: ``crate::a::{B, c::D}`` → a::B, a::c::D."""
    t = node.type
    if t in ("scoped_use_list",):
        path = _text(node.child_by_field_name("path"))
        lst = node.child_by_field_name("list")
        new = f"{base}::{path}" if base and path else base or path
        return [p for c in (lst.named_children if lst else []) for p in _rust_paths(c, new)]
    if t == "use_list":
        return [p for c in node.named_children for p in _rust_paths(c, base)]
    if t == "use_as_clause":
        return _rust_paths(node.child_by_field_name("path") or node, base)
    if t == "use_wildcard":
        full = _text(node).removesuffix("::*")
        return [(f"{base}::{full}" if base else full, "*")]
    full = _text(node)
    full = f"{base}::{full}" if base else full
    leaf = full.rsplit("::", 1)[-1]
    return [(full, leaf)]


def _rust_import(node: tree_sitter.Node) -> list[ImportRef]:
    if node.type == "mod_item":
        if node.child_by_field_name("body") is not None:
            return []
        return [ImportRef(_text(node.child_by_field_name("name")), kind="mod")]
    arg = node.child_by_field_name("argument")
    if arg is None:
        return []
    return [ImportRef(path, (leaf,)) for path, leaf in _rust_paths(arg, "")]


def _java_import(node: tree_sitter.Node) -> list[ImportRef]:
    body = _text(node).strip().rstrip(";").split(None, 1)
    if len(body) < 2:
        return []
    spec = body[1].removeprefix("static ").strip().replace(" ", "")
    kind = "package" if node.type == "package_declaration" else "import"
    return [ImportRef(spec, kind=kind)]


def _c_import(node: tree_sitter.Node) -> list[ImportRef]:
    path = node.child_by_field_name("path")
    if path is None or path.type != "string_literal":
        return []  # <system> headers are not ours
    return [ImportRef(_unquote(_text(path)), kind="include")]


_IMPORTERS = {
    "python": _python_import, "javascript": _js_import, "javascriptreact": _js_import,
    "typescript": _js_import, "typescriptreact": _js_import, "go": _go_import,
    "rust": _rust_import, "java": _java_import, "c": _c_import, "cpp": _c_import,
}


# --- definitions -----------------------------------------------------------------------------


def _name_of(node: tree_sitter.Node) -> str:
    t = node.type
    if t == "decorated_definition":
        return _name_of(node.child_by_field_name("definition") or node)
    if t in ("lexical_declaration", "var_declaration", "const_declaration", "declaration",
             "type_declaration", "expression_statement", "field_declaration"):
        for child in node.named_children:
            for field in ("name", "left", "declarator"):
                n = child.child_by_field_name(field)
                if n is not None:
                    return _leaf_name(n)
        n = node.child_by_field_name("declarator")
        return _leaf_name(n) if n is not None else ""
    if t == "type_definition":
        return _leaf_name(node.child_by_field_name("declarator"))
    if t in ("function_definition",) and node.child_by_field_name("name") is None:
        return _leaf_name(node.child_by_field_name("declarator"))
    n = node.child_by_field_name("name")
    return _leaf_name(n) if n is not None else ""


def _leaf_name(node: tree_sitter.Node | None) -> str:
    """The identifier inside a (C) declarator chain or a plain name node."""
    while node is not None and node.child_by_field_name("declarator") is not None:
        node = node.child_by_field_name("declarator")
    if node is not None and node.type in ("qualified_identifier", "scoped_identifier"):
        node = node.child_by_field_name("name") or node
    s = _text(node)
    m = re.search(r"[A-Za-z_]\w*", s)
    return m.group(0) if m else ""


def _body_of(node: tree_sitter.Node) -> tree_sitter.Node | None:
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition")
        return _body_of(inner) if inner is not None else None
    if node.type == "export_statement":
        inner = node.child_by_field_name("declaration")
        return _body_of(inner) if inner is not None else None
    if node.type == "type_definition":
        inner = node.child_by_field_name("type")
        return inner.child_by_field_name("body") if inner is not None else None
    if node.type == "lexical_declaration":
        for d in node.named_children:
            value = d.child_by_field_name("value")
            if value is not None and value.type in ("arrow_function", "function_expression"):
                return value.child_by_field_name("body")
        return None
    return node.child_by_field_name("body")


def _doc_lines(node: tree_sitter.Node, src: bytes, language: str) -> tuple[str, str]:
    """(comment lines above the definition, docstring lines below its signature)."""
    above = ""
    if node.parent is not None and node.parent.type == "export_statement":
        node = node.parent
    prev = node.prev_named_sibling
    block: list[tree_sitter.Node] = []
    row = node.start_point[0]
    while prev is not None and prev.type in _COMMENTS and prev.end_point[0] >= row - 1:
        block.insert(0, prev)
        row = prev.start_point[0]
        prev = prev.prev_named_sibling
    if block:
        lines = src[block[0].start_byte : block[-1].end_byte].decode("utf-8", "replace").rstrip()
        kept = lines.split("\n")[:DOC_LINES]
        above = "\n".join(kept) + "\n"
    below = ""
    body = _body_of(node)
    if language == "python" and body is not None and body.named_child_count:
        first = body.named_children[0]
        if first.type == "expression_statement" and first.named_children and \
                first.named_children[0].type == "string":
            col = first.start_point[1]
            doc = _text(first).split("\n")
            kept = doc[:DOC_LINES]
            if len(doc) > DOC_LINES:
                kept.append(" " * col + "...")
            below = " " * col + "\n".join(kept) + "\n"
    return above, below


def _line_start(src: bytes, byte: int) -> int:
    return src.rfind(b"\n", 0, byte) + 1


def _render(node: tree_sitter.Node, src: bytes, language: str, container: str) -> str:
    start = _line_start(src, node.start_byte)
    above, below = _doc_lines(node, src, language)
    lines = node.end_point[0] - node.start_point[0] + 1
    inner = node.child_by_field_name("definition") or node.child_by_field_name("declaration")
    kind = (inner or node).type
    body = _body_of(node)
    if body is None or lines == 1 or (kind in _TYPE_KINDS and lines <= SMALL_TYPE_LINES):
        end = node.end_byte
        text = src[start:end].decode("utf-8", "replace")
        text = "\n".join(text.split("\n")[: SMALL_TYPE_LINES if kind in _TYPE_KINDS
                                        else SIGNATURE_LINES])
        return above + text.rstrip() + "\n"
    sig = src[start : body.start_byte].decode("utf-8", "replace").rstrip()
    sig_lines = sig.split("\n")[:SIGNATURE_LINES]
    if language != "python":
        tail = src[body.start_byte : body.start_byte + 1].decode("utf-8", "replace")
        if tail in "{":
            sig_lines[-1] += " " + tail if not sig_lines[-1].endswith(" ") else tail
    text = above + "\n".join(sig_lines) + "\n" + below
    return text


def _kind(node: tree_sitter.Node, member: bool) -> str:
    inner = node.child_by_field_name("definition") or node.child_by_field_name("declaration")
    t = (inner or node).type
    if member or t in _MEMBER_KINDS:
        return "method"
    if t in _TYPE_KINDS:
        return "type"
    if "function" in t or t == "function_item":
        return "function"
    return "variable"


def _container_of(node: tree_sitter.Node) -> tree_sitter.Node | None:
    p = node
    while p.parent is not None and p.parent.parent is not None:
        p = p.parent
    # p is now the top-level statement holding node (node itself when it is top-level)
    if p == node or p.parent is None:
        return None
    if p.type == "export_statement":
        decl = p.child_by_field_name("declaration")
        return None if decl is None or decl == node else decl
    return p


def parse_facts(text: str, language_id: str) -> FileFacts | None:
    """Imports and definitions of ``text``; None when the language has no grammar/queries."""
    queries = _queries(language_id)
    parser = parser_for(language_id)
    if queries is None or parser is None:
        return None
    src = text.encode("utf-8", errors="surrogatepass")
    tree = parser.parse(src)
    return facts_of(tree.root_node, src, language_id)


def facts_of(root: tree_sitter.Node, src: bytes, language_id: str) -> FileFacts | None:
    queries = _queries(language_id)
    if queries is None:
        return None
    imp_q, def_q = queries
    imports: list[ImportRef] = []
    package = ""
    importer = _IMPORTERS[language_id]
    for node in _captures(imp_q, root, "imp"):
        for ref in importer(node):
            if ref.kind == "package":
                package = ref.spec
            elif ref.spec or ref.level:
                imports.append(ref)
    if language_id == "go":
        pkg = next((c for c in root.named_children if c.type == "package_clause"), None)
        package = _text(pkg).removeprefix("package").strip()
    defs: list[Definition] = []
    seen: set[int] = set()
    for node in _captures(def_q, root, "def"):
        if node.start_byte in seen:
            continue
        seen.add(node.start_byte)
        name = _name_of(node)
        if not name:
            continue
        holder = _container_of(node)
        member = holder is not None
        container = _name_of(holder) if holder is not None else ""
        if holder is not None and holder.type == "impl_item":
            container = _leaf_name(holder.child_by_field_name("type"))
        text = _render(node, src, language_id, container)
        if member and holder is not None:
            head = src[_line_start(src, holder.start_byte) :].split(b"\n", 1)[0]
            text = head.decode("utf-8", "replace") + "\n" + text
        defs.append(Definition(name, _kind(node, member), node.start_point[0], text, container))
    return FileFacts(language_id, tuple(imports), tuple(defs), package)
