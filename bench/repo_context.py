"""Repository context on code bases the project does not own: recall, prompt size, latency.

Code bases: httpx and pygls as installed in the venv (Python), and TypeScript packages that ship
their sources from ``editors/vscode/node_modules`` (ajv, @azure/msal-common) when installed
(``--ts DIR`` adds or replaces them). Each is copied into a temporary workspace. A call site is
``name(`` in a file that imports ``name`` from another file of the same code base where a
top-level definition of ``name`` is found by a plain text search (independent of the code under
test). With only the current file open and the cursor right after ``name(``:

* recall: the definition's line is in the prompt, with ``repoContext`` on and off;
* prompt size: estimated tokens of the whole prompt, on and off;
* added latency: the repository-context step alone, on the first request in a fresh workspace
  (cold index: imports resolved and files read), on didOpen (where the server fills the index)
  and the request after it, and on a repeat request (warm index).

A second part builds a 5,000-file workspace and times the first request there.

    .venv/bin/python bench/repo_context.py [--quick] [--sites N] [--ts DIR ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, median, pct, table  # noqa: E402
from deepseek_fim_lsp.config import Settings  # noqa: E402
from deepseek_fim_lsp.context.repo import RepoContext  # noqa: E402
from deepseek_fim_lsp.context.tokens import estimate_tokens  # noqa: E402
from deepseek_fim_lsp.context.window import build_window  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TS_DEFAULT = ("ajv/lib", "@azure/msal-common/src")
PY_DEFAULT = ("httpx", "pygls")

_PY_DEF = r"^(?:(?:async\s+)?def|class)\s+{n}\b"
_TS_DEF = (r"^export\s+(?:default\s+)?(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?"
           r"(?:function\*?|class|interface|type|const|let|enum)\s+{n}\b")


@dataclass
class Site:
    path: Path
    offset: int
    name: str
    definition: str  # the definition's line, stripped


@dataclass
class Base:
    name: str
    language: str
    root: Path
    files: list[Path]


def _copy(src: Path, dest: Path, marker: str) -> Path:
    shutil.copytree(src, dest / src.name, ignore=shutil.ignore_patterns(
        "__pycache__", "node_modules", "*.pyc"))
    (dest / marker).write_text("{}\n" if marker.endswith(".json") else "")
    return dest


def code_bases(tmp: Path, ts_dirs: list[str]) -> list[Base]:
    out: list[Base] = []
    for mod in PY_DEFAULT:
        spec = importlib.util.find_spec(mod)
        if spec is None or not spec.submodule_search_locations:
            continue
        src = Path(list(spec.submodule_search_locations)[0])
        root = _copy(src, tmp / mod, "pyproject.toml")
        out.append(Base(mod, "python", root, sorted(root.rglob("*.py"))))
    nm = ROOT / "editors/vscode/node_modules"
    dirs = [Path(d) for d in ts_dirs] or [nm / d for d in TS_DEFAULT]
    for d in dirs:
        if not d.is_dir():
            print(f"skipped (not installed): {d}")
            continue
        name = d.parent.name if d.name in ("src", "lib") else d.name
        root = _copy(d, tmp / name, "package.json")
        files = sorted(p for p in root.rglob("*.ts") if not p.name.endswith(".d.ts"))
        out.append(Base(name, "typescript", root, files))
    return out


def call_sites(base: Base, limit: int) -> list[Site]:
    """Call sites of names imported from a sibling file that defines them (text search)."""
    defs: dict[str, list[tuple[Path, str]]] = {}
    pattern = _PY_DEF if base.language == "python" else _TS_DEF
    texts = {p: p.read_text(errors="replace") for p in base.files}
    name_rx = re.compile(pattern.format(n=r"(?P<n>[A-Za-z_]\w*)"), re.MULTILINE)
    for p, t in texts.items():
        for m in name_rx.finditer(t):
            line = t[m.start():t.find("\n", m.start())].strip()
            defs.setdefault(m.group("n"), []).append((p, line))
    if base.language == "python":
        imp = re.compile(r"^\s*from\s+\S+\s+import\s+\(?([^)\n]*(?:\n[^)\n]*)*?)\)?$", re.M)
    else:
        imp = re.compile(r"^import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['\"]\.", re.M)
    sites: list[Site] = []
    for p, t in texts.items():
        imported = set()
        for m in imp.finditer(t):
            imported |= {w.split(" as ")[0].strip() for w in m.group(1).split(",")}
        body_start = max((m.end() for m in imp.finditer(t)), default=0)
        per_file = 0
        for name in sorted(imported):
            where = [d for d in defs.get(name, []) if d[0] != p]
            if len(where) != 1 or not re.fullmatch(r"[A-Za-z_]\w*", name):
                continue
            call = re.search(r"(?<![\w.])" + re.escape(name) + r"\(", t[body_start:])
            if call is None:
                continue
            sites.append(Site(p, body_start + call.end(), name, where[0][1]))
            per_file += 1
            if per_file >= 2:
                break
    step = max(1, len(sites) // limit) if limit else 1
    return sites[::step][:limit] if limit else sites


def run_base(base: Base, limit: int, s: Settings) -> dict[str, float]:
    sites = call_sites(base, limit)
    hits_on = hits_off = 0
    size_on: list[int] = []
    size_off: list[int] = []
    cold: list[float] = []
    warm: list[float] = []
    opening: list[float] = []
    after_open: list[float] = []
    for site in sites:
        text = site.path.read_text(errors="replace")
        uri = site.path.as_uri()
        ctx = RepoContext()  # a fresh workspace per site: every first request is cold
        ctx.set_roots([str(base.root)])
        t0 = time.perf_counter()
        header = ctx.header(uri, text, site.offset, base.language, s.repo_context_tokens, {},
                            lambda _u: True)
        cold.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        ctx.header(uri, text, site.offset, base.language, s.repo_context_tokens, {},
                   lambda _u: True)
        warm.append((time.perf_counter() - t0) * 1e3)
        fresh = RepoContext()  # as the server: didOpen fills the index, then the request
        fresh.set_roots([str(base.root)])
        t0 = time.perf_counter()
        fresh.opened(uri, base.language, text)
        opening.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        fresh.header(uri, text, site.offset, base.language, s.repo_context_tokens, {},
                     lambda _u: True)
        after_open.append((time.perf_counter() - t0) * 1e3)
        for on in (True, False):
            w = build_window(text, site.offset, uri=uri, language_id=base.language,
                             prefix_tokens=s.prefix_tokens, suffix_tokens=s.suffix_tokens,
                             context_header=header if on else "")
            found = site.definition in w.prompt
            if on:
                hits_on += found
                size_on.append(estimate_tokens(w.prompt))
            else:
                hits_off += found
                size_off.append(estimate_tokens(w.prompt))
    n = max(1, len(sites))
    return {"sites": len(sites), "recall_on": hits_on / n, "recall_off": hits_off / n,
            "prompt_on": median(size_on) if size_on else 0.0,
            "prompt_off": median(size_off) if size_off else 0.0,
            "cold_p50": median(cold) if cold else 0.0, "cold_p95": pct(cold, 95) if cold else 0.0,
            "warm_p50": median(warm) if warm else 0.0, "warm_p95": pct(warm, 95) if warm else 0.0,
            "open_p50": median(opening) if opening else 0.0,
            "first_p50": median(after_open) if after_open else 0.0,
            "first_p95": pct(after_open, 95) if after_open else 0.0}


def big_workspace(tmp: Path, files: int) -> tuple[float, float]:
    """First and warm request times in a ``files``-file workspace (ms)."""
    root = tmp / "big"
    for i in range(files):
        d = root / f"pkg{i // 100}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"m{i % 100}.py").write_text(f"def f{i}(x: int) -> int:\n    return x + {i}\n")
        (d / "__init__.py").touch()
    (root / "pyproject.toml").write_text("")
    text = "".join(f"from pkg{k}.m{k} import f{k * 100 + k}\n" for k in range(5))
    text += "\n\ndef main():\n    return f0(1) + f101("
    current = root / "main.py"
    current.write_text(text)
    ctx = RepoContext()
    ctx.set_roots([str(root)])
    t0 = time.perf_counter()
    header = ctx.header(current.as_uri(), text, len(text), "python", 800, {}, lambda _u: True)
    first = (time.perf_counter() - t0) * 1e3
    assert "def f101(" in header, header
    t0 = time.perf_counter()
    ctx.header(current.as_uri(), text, len(text), "python", 800, {}, lambda _u: True)
    return first, (time.perf_counter() - t0) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few seconds, for the smoke test")
    p.add_argument("--sites", type=int, default=None, help="call sites per code base (80)")
    p.add_argument("--ts", action="append", default=[], help="a TypeScript source directory")
    args = p.parse_args()
    limit = args.sites or (8 if args.quick else 80)
    s = Settings()
    print(f"repository context: up to {limit} call sites per code base, only the current file "
          f"open, repoContextTokens {s.repo_context_tokens}")
    print(f"machine: {machine()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for base in code_bases(Path(tmp), args.ts):
            r = run_base(base, limit, s)
            rows.append((base.name, len(base.files), int(r["sites"]),
                         100 * r["recall_on"], 100 * r["recall_off"],
                         int(r["prompt_on"]), int(r["prompt_off"]),
                         r["cold_p50"], r["cold_p95"], r["open_p50"], r["first_p50"],
                         r["first_p95"], r["warm_p50"], r["warm_p95"], base.language))
        files = 500 if args.quick else 5000
        first, again = big_workspace(Path(tmp), files)
    print()
    print(table(rows, ["code_base", "files", "sites", "recall_on_pct", "recall_off_pct",
                       "prompt_on_tok", "prompt_off_tok", "cold_p50_ms", "cold_p95_ms",
                       "didopen_p50_ms", "first_p50_ms", "first_p95_ms", "warm_p50_ms",
                       "warm_p95_ms", "language"]))
    print("\ncold: first request without a didOpen (complete, the Python API); didopen: the "
          "index filled when the server is told the file opened; first: the request after it; "
          "warm: a repeat request. All are the repository-context step alone (the added "
          "latency); repoContext off adds nothing.")
    print(f"\n{files}-file workspace: first request +{first:.1f} ms (index cold, 5 imports), "
          f"next +{again:.2f} ms")


if __name__ == "__main__":
    main()
