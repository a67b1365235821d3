"""Where a file's imports lead on disk, per language; only files the workspace may read.

Resolution only stats candidate paths (and lists the one directory of a Go/Java package); it
never walks a tree. Each target carries the names the import brings in (empty: the whole
module, whose definitions are then matched against the identifiers near the cursor).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from .definitions import FileFacts
from .import_nodes import ImportRef
from .workspace import Workspace

__all__ = ["MAX_TARGETS", "Target", "resolve_imports"]

Target = tuple[str, tuple[str, ...]]  # (path, names brought in; () = all)

#: At most this many files are taken from one file's imports (and per package directory).
MAX_TARGETS = 40
_PACKAGE_FILES = 24


def _isfile(path: str) -> bool:
    return os.path.isfile(path)


def _first(paths: Iterable[str]) -> str | None:
    return next((p for p in paths if _isfile(p)), None)


def _dir_files(directory: str, suffix: str, skip: Callable[[str], bool]) -> list[str]:
    try:
        names = sorted(e.name for e in os.scandir(directory) if e.name.endswith(suffix))
    except OSError:
        return []
    return [posixpath.join(directory, n) for n in names if not skip(n)][:_PACKAGE_FILES]


# --- Python ----------------------------------------------------------------------------------


def _python_roots(path: str, ws: Workspace) -> list[str]:
    """Where absolute imports start: above the file's top package, the workspace root, src/."""
    roots: list[str] = []
    d = posixpath.dirname(path)
    while _isfile(posixpath.join(d, "__init__.py")) and posixpath.dirname(d) != d:
        d = posixpath.dirname(d)
    roots.append(d)
    root = ws.root_of(os.path.realpath(path))
    if root is not None:
        roots += [root, posixpath.join(root, "src")]
    roots.append(posixpath.dirname(path))
    return list(dict.fromkeys(roots))


def _python_module(base: str, dotted: str) -> str | None:
    parts = [p for p in dotted.split(".") if p]
    stem = posixpath.join(base, *parts) if parts else base
    if parts:
        found = _first((stem + ".py", stem + ".pyi"))
        if found:
            return found
    return _first((posixpath.join(stem, "__init__.py"), posixpath.join(stem, "__init__.pyi")))


def _python(path: str, ref: ImportRef, ws: Workspace) -> list[Target]:
    if ref.level:
        base = posixpath.dirname(path)
        for _ in range(ref.level - 1):
            base = posixpath.dirname(base)
        bases = [base]
    else:
        bases = _python_roots(path, ws)
    out: list[Target] = []
    for base in bases:
        module = _python_module(base, ref.spec)
        if module is None and not ref.names:
            continue
        if module is not None:
            out.append((module, ref.names))
        for name in ref.names:  # `from pkg import submodule`
            sub = _python_module(base, f"{ref.spec}.{name}" if ref.spec else name)
            if sub is not None and sub != module:
                out.append((sub, ()))
        if out:
            break
    return out


# --- TypeScript / JavaScript -----------------------------------------------------------------

_TS_EXT = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}


def _ts_file(base: str) -> str | None:
    stem, ext = posixpath.splitext(base)
    cands: list[str] = []
    if ext in _JS_TO_TS:
        cands += [stem + e for e in _JS_TO_TS[ext]]
    cands.append(base)
    cands += [base + e for e in _TS_EXT]
    cands += [posixpath.join(base, "index" + e) for e in _TS_EXT]
    return _first(c for c in cands if posixpath.basename(c))


_JSON_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*[\s\S]*?\*/')
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def _loose_json(text: str) -> object:
    """tsconfig.json: JSON with comments and trailing commas."""
    text = _JSON_COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)
    return json.loads(_TRAILING_COMMA.sub(r"\1", text))


@lru_cache(maxsize=64)
def _tsconfig(path: str, mtime: float) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """(baseUrl, paths) of one tsconfig, following one relative ``extends``."""
    del mtime  # part of the cache key only
    try:
        with open(path, encoding="utf-8") as f:
            data = _loose_json(f.read(1_000_000))
    except (OSError, ValueError):
        return "", ()
    if not isinstance(data, dict):
        return "", ()
    here = posixpath.dirname(path)
    base = ""
    paths: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ext = data.get("extends")
    if isinstance(ext, str) and ext.startswith("."):
        parent = posixpath.normpath(posixpath.join(here, ext))
        if not parent.endswith(".json"):
            parent += ".json"
        if _isfile(parent):
            base, paths = _tsconfig(parent, os.path.getmtime(parent))
    opts = data.get("compilerOptions")
    if isinstance(opts, dict):
        if isinstance(opts.get("baseUrl"), str):
            base = posixpath.normpath(posixpath.join(here, opts["baseUrl"]))
        raw = opts.get("paths")
        if isinstance(raw, dict):
            root = base or here
            paths = tuple(
                (k, tuple(posixpath.join(root, v) for v in vs if isinstance(v, str)))
                for k, vs in raw.items() if isinstance(vs, list)
            )
    return base, paths


def _nearest(path: str, names: tuple[str, ...], ws: Workspace) -> str | None:
    d = posixpath.dirname(path)
    root = ws.root_of(os.path.realpath(path)) or d
    while True:
        for n in names:
            cand = posixpath.join(d, n)
            if _isfile(cand) and ws.allowed(cand):
                return cand
        if d == root or posixpath.dirname(d) == d:
            return None
        d = posixpath.dirname(d)


def _ts(path: str, ref: ImportRef, ws: Workspace) -> list[Target]:
    spec = ref.spec
    if spec.startswith((".", "/")):
        found = _ts_file(posixpath.normpath(posixpath.join(posixpath.dirname(path), spec)))
        return [(found, ref.names)] if found else []
    cfg = _nearest(path, ("tsconfig.json", "jsconfig.json"), ws)
    if cfg is None:
        return []
    base, paths = _tsconfig(cfg, os.path.getmtime(cfg))
    for pattern, targets in paths:
        head, star, tail = pattern.partition("*")
        if star and spec.startswith(head) and spec.endswith(tail) and \
                len(spec) >= len(head) + len(tail):
            middle = spec[len(head) : len(spec) - len(tail)]
        elif not star and spec == pattern:
            middle = ""
        else:
            continue
        for t in targets:
            found = _ts_file(posixpath.normpath(t.replace("*", middle)))
            if found:
                return [(found, ref.names)]
    if base:
        found = _ts_file(posixpath.normpath(posixpath.join(base, spec)))
        if found:
            return [(found, ref.names)]
    return []


# --- Go --------------------------------------------------------------------------------------


def _go_skip(current: str) -> Callable[[str], bool]:
    base = posixpath.basename(current)
    return lambda n: n == base or (n.endswith("_test.go") and not base.endswith("_test.go"))


@lru_cache(maxsize=64)
def _go_module(gomod: str, mtime: float) -> str:
    del mtime
    try:
        with open(gomod, encoding="utf-8") as f:
            m = re.search(r"^module\s+(\S+)", f.read(100_000), re.MULTILINE)
    except OSError:
        return ""
    return m.group(1).strip('"') if m else ""


def _go(path: str, ref: ImportRef, ws: Workspace) -> list[Target]:
    gomod = _nearest(path, ("go.mod",), ws)
    if gomod is None:
        return []
    module = _go_module(gomod, os.path.getmtime(gomod))
    if not module or not (ref.spec == module or ref.spec.startswith(module + "/")):
        return []
    d = posixpath.join(posixpath.dirname(gomod), ref.spec[len(module) :].lstrip("/"))
    return [(f, ()) for f in _dir_files(d, ".go", lambda n: n.endswith("_test.go"))]


# --- Rust ------------------------------------------------------------------------------------


def _rust_src(path: str, ws: Workspace) -> str | None:
    cargo = _nearest(path, ("Cargo.toml",), ws)
    return posixpath.join(posixpath.dirname(cargo), "src") if cargo else None


def _rust_module_of(path: str, src: str) -> list[str]:
    rel = posixpath.relpath(path, src)
    parts = rel[:-3].split("/") if rel.endswith(".rs") else rel.split("/")
    if parts[-1] == "mod" or (len(parts) == 1 and parts[0] in ("lib", "main")):
        parts = parts[:-1]
    return [p for p in parts if p not in ("", ".")]


def _rust_file(src: str, segments: list[str]) -> str | None:
    if not segments:
        return _first((posixpath.join(src, "lib.rs"), posixpath.join(src, "main.rs")))
    stem = posixpath.join(src, *segments)
    return _first((stem + ".rs", posixpath.join(stem, "mod.rs")))


def _rust(path: str, ref: ImportRef, ws: Workspace) -> list[Target]:
    src = _rust_src(path, ws)
    if src is None:
        return []
    here = _rust_module_of(path, src)
    if ref.kind == "mod":
        stem = posixpath.splitext(posixpath.basename(path))[0]
        if stem in ("mod", "lib", "main"):
            found = _rust_file(posixpath.dirname(path), [ref.spec])
        else:
            found = _rust_file(posixpath.join(posixpath.dirname(path), stem), [ref.spec])
        return [(found, ())] if found else []
    segs = ref.spec.split("::")
    if segs[0] == "crate":
        base, rest = [], segs[1:]
    elif segs[0] in ("super", "self"):
        base = list(here)
        while segs and segs[0] in ("super", "self"):
            if segs.pop(0) == "super" and base:
                base.pop()
        rest = segs
    else:
        return []  # another crate
    # the longest prefix of the path that is a module file; the rest are items in it
    for cut in range(len(rest), -1, -1):
        found = _rust_file(src, base + rest[:cut])
        if found:
            names = tuple(n for n in rest[cut:cut + 1] if n != "*")
            return [(found, names)]
    return []


# --- Java ------------------------------------------------------------------------------------


def _java(path: str, ref: ImportRef, facts: FileFacts) -> list[Target]:
    d = posixpath.dirname(path)
    pkg_dirs = facts.package.split(".") if facts.package else []
    root = d
    if pkg_dirs and d.split("/")[-len(pkg_dirs):] == pkg_dirs:
        root = "/".join(d.split("/")[: -len(pkg_dirs)])
    parts = ref.spec.split(".")
    if parts[-1] == "*":
        pkg = posixpath.join(root, *parts[:-1])
        return [(f, ()) for f in _dir_files(pkg, ".java", lambda n: False)]
    for cut in range(len(parts), 0, -1):  # com.y.Q.m: Q.java holds m
        cand = posixpath.join(root, *parts[:cut]) + ".java"
        if _isfile(cand):
            return [(cand, tuple(parts[cut:cut + 1]))]
    return []


# --- C / C++ ---------------------------------------------------------------------------------


def _c(path: str, ref: ImportRef, ws: Workspace) -> list[Target]:
    root = ws.root_of(os.path.realpath(path))
    bases = [posixpath.dirname(path)]
    if root:
        bases += [root, posixpath.join(root, "include"), posixpath.join(root, "src")]
    found = _first(posixpath.normpath(posixpath.join(b, ref.spec)) for b in bases)
    return [(found, ())] if found else []


# --- all -------------------------------------------------------------------------------------


def _same_package(path: str, language: str) -> list[Target]:
    """Go and Java see their package's other files without importing them."""
    d = posixpath.dirname(path)
    if language == "go":
        return [(f, ()) for f in _dir_files(d, ".go", _go_skip(path))]
    if language == "java":
        me = posixpath.basename(path)
        return [(f, ()) for f in _dir_files(d, ".java", lambda n: n == me)]
    return []


def resolve_imports(path: str, facts: FileFacts, ws: Workspace) -> list[Target]:
    """The workspace files ``path``'s imports (and package) lead to, in import order."""
    out: list[Target] = []
    lang = facts.language
    for ref in facts.imports:
        if lang == "python":
            found = _python(path, ref, ws)
        elif lang in ("typescript", "typescriptreact", "javascript", "javascriptreact"):
            found = _ts(path, ref, ws)
        elif lang == "go":
            found = _go(path, ref, ws)
        elif lang == "rust":
            found = _rust(path, ref, ws)
        elif lang == "java":
            found = _java(path, ref, facts)
        elif lang in ("c", "cpp"):
            found = _c(path, ref, ws)
        else:
            found = []
        out += found
        if len(out) >= MAX_TARGETS:
            break
    out += _same_package(path, lang)
    merged: dict[str, tuple[str, ...]] = {}
    me = os.path.realpath(path)
    for target, names in out:
        target = posixpath.normpath(target)
        if os.path.realpath(target) == me or not ws.allowed(target):
            continue
        prev = merged.get(target)
        # () means "everything" and wins over a list of names
        merged[target] = () if prev == () or not names else (*(prev or ()), *names)
    return list(merged.items())[:MAX_TARGETS]
