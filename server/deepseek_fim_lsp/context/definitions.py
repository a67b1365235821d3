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

from ..syntax.languages import canonical, language_for, parser_for
from .import_nodes import IMPORTERS, ImportRef
from .import_nodes import node_text as _text

__all__ = ["Definition", "FileFacts", "ImportRef", "facts_of", "parse_facts"]

#: Small types are shown whole up to this many lines.
SMALL_TYPE_LINES = 25
#: Lines of a docstring or leading comment kept.
DOC_LINES = 3
#: A signature longer than this many lines is cut.
SIGNATURE_LINES = 8


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
        """
        [(import_statement) (import_from_statement)] @imp
        (if_statement consequence: (block [(import_statement) (import_from_statement)] @imp))
        (try_statement body: (block [(import_statement) (import_from_statement)] @imp))
        """,
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
    language_id = canonical(language_id)
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
    importer = IMPORTERS[language_id]
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
