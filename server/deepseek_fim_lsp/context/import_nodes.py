"""Reading import statements out of tree-sitter nodes, per language.

The nodes come from the ``@imp`` captures of :mod:`.definitions`' queries; each reader turns one
into :class:`ImportRef` values (the module or path as written, and the names it brings in).
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter

__all__ = ["IMPORTERS", "ImportRef", "node_text"]


@dataclass(frozen=True)
class ImportRef:
    """One import as written: ``spec`` is the module/path, ``names`` what it brings in."""

    spec: str
    names: tuple[str, ...] = ()
    level: int = 0  # Python: leading dots of a relative import
    kind: str = "import"  # "mod" for Rust `mod x;`, "include" for C



def node_text(node: tree_sitter.Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


_text = node_text


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


IMPORTERS = {
    "python": _python_import, "javascript": _js_import, "javascriptreact": _js_import,
    "typescript": _js_import, "typescriptreact": _js_import, "go": _go_import,
    "rust": _rust_import, "java": _java_import, "c": _c_import, "cpp": _c_import,
}
