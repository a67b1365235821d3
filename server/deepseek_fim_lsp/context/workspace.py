"""Which files of the workspace may be read for repository context, and reading them safely.

The rules, all checked before a file is opened: the file's real path (symlinks resolved) lies
inside a workspace root; no exclusion pattern matches it (the secret-file defaults and the
user's ``exclude``); the repository does not ignore it (``.gitignore`` files from the root down,
with git's semantics through ``pathspec``, plus ``node_modules/``, VCS and build-output
directories); it is a regular file of at most 1 MB with no NUL byte in its first 8 KB. Nothing
here walks a directory tree: callers name the files they want (resolved imports), so a workspace
of 100k files costs nothing up front.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import pathspec

from .privacy import is_excluded, uri_to_path

__all__ = [
    "IGNORED_DIRS",
    "MAX_FILE_BYTES",
    "PROJECT_MARKERS",
    "Workspace",
    "project_root",
]

#: Files larger than this are never read (generated code, data, bundles).
MAX_FILE_BYTES = 1_000_000
#: Bytes looked at for a NUL (binary files are skipped).
_SNIFF_BYTES = 8192
#: Nearest directory holding one of these is a file's project root (for ``complete`` / the API).
PROJECT_MARKERS = (".git", "pyproject.toml", "package.json", "go.mod", "Cargo.toml")
#: Directory names never read, whatever .gitignore says: dependencies, VCS data, build output.
IGNORED_DIRS = frozenset(
    """
    node_modules .git .hg .svn __pycache__ .venv venv .tox .nox .mypy_cache .pytest_cache
    .ruff_cache build dist out target .next .nuxt .gradle .idea .cache bower_components
    """.split()
)


def project_root(path: str) -> str:
    """The nearest ancestor directory of ``path`` with a project marker, else its directory."""
    return _project_root_of(posixpath.dirname(os.path.abspath(uri_to_path(path))))


@lru_cache(maxsize=256)
def _project_root_of(here: str) -> str:
    d = here
    while True:
        if any(os.path.exists(posixpath.join(d, m)) for m in PROJECT_MARKERS):
            return d
        parent = posixpath.dirname(d)
        if parent == d:
            return here
        d = parent


@dataclass
class _Ignore:
    spec: pathspec.GitIgnoreSpec | None  # rules of this directory's .gitignore (None: no file)


class Workspace:
    """The roots one may read under, with the rules above. Caches .gitignore parses per dir."""

    def __init__(self, roots: Iterable[str] = (), exclude: Sequence[str] = ()) -> None:
        self._roots: tuple[str, ...] = ()
        self.exclude: tuple[str, ...] = tuple(exclude)
        self._ignores: dict[str, _Ignore] = {}
        self.set_roots(roots)

    @property
    def roots(self) -> tuple[str, ...]:
        return self._roots

    def set_roots(self, roots: Iterable[str]) -> None:
        """Replace the roots (URIs or paths); each is resolved to its real path."""
        real = []
        for r in roots:
            p = os.path.realpath(uri_to_path(r))
            if os.path.isdir(p) and p not in real:
                real.append(p)
        self._roots = tuple(real)
        self._ignores.clear()

    def add_roots(self, roots: Iterable[str]) -> None:
        self.set_roots((*self._roots, *roots))

    def remove_roots(self, roots: Iterable[str]) -> None:
        gone = {os.path.realpath(uri_to_path(r)) for r in roots}
        self.set_roots(r for r in self._roots if r not in gone)

    def root_of(self, path: str) -> str | None:
        """The (innermost) root whose tree holds the real ``path``, or None."""
        best: str | None = None
        for root in self._roots:
            if (path == root or path.startswith(root.rstrip("/") + "/")) and (
                best is None or len(root) > len(best)
            ):
                best = root
        return best

    def contains(self, path: str) -> bool:
        """True if ``path`` (symlinks resolved) lies inside a root."""
        return self.root_of(os.path.realpath(path)) is not None

    def allowed(self, path: str) -> bool:
        """All the rules of the module docstring except size/binary (which need a stat/read)."""
        real = os.path.realpath(path)
        root = self.root_of(real)
        if root is None:
            return False
        if is_excluded(real, self.exclude) or is_excluded(os.path.abspath(path), self.exclude):
            return False
        rel = posixpath.relpath(real, root)
        parts = rel.split("/")
        if any(p in IGNORED_DIRS for p in parts[:-1]):
            return False
        return not self._git_ignored(root, parts)

    def _spec(self, directory: str) -> pathspec.GitIgnoreSpec | None:
        entry = self._ignores.get(directory)
        if entry is None:
            spec = None
            try:
                with open(posixpath.join(directory, ".gitignore"), encoding="utf-8",
                          errors="replace") as f:
                    lines = f.read(MAX_FILE_BYTES).splitlines()
                spec = pathspec.GitIgnoreSpec.from_lines(lines)
            except OSError:
                pass
            entry = self._ignores[directory] = _Ignore(spec)
            if len(self._ignores) > 4096:
                self._ignores.pop(next(iter(self._ignores)))
        return entry.spec

    def _git_ignored(self, root: str, parts: list[str]) -> bool:
        """Each .gitignore from the root down judges the path relative to its own directory;
        a deeper file's verdict wins, as in git (an ignored directory hides all below it)."""
        for depth in range(len(parts)):
            directory = posixpath.join(root, *parts[:depth]) if depth else root
            spec = self._spec(directory)
            if spec is None:
                continue
            rest = parts[depth:]
            # a directory on the way that is ignored hides everything under it
            for k in range(1, len(rest)):
                if spec.match_file("/".join(rest[:k]) + "/"):
                    return True
            if spec.match_file("/".join(rest)):
                return True
        return False

    def read(self, path: str) -> str | None:
        """The text of ``path`` if every rule allows it, else None (never raises for I/O)."""
        if not self.allowed(path):
            return None
        return read_small_text(path)


def read_small_text(path: str) -> str | None:
    """A regular file's text if it is at most 1 MB and not binary (decoded leniently)."""
    try:
        st = os.stat(path)
        if not os.path.isfile(path) or st.st_size > MAX_FILE_BYTES:
            return None
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES or b"\x00" in data[:_SNIFF_BYTES]:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")
