"""The documentation holds together: every relative link and ``#anchor`` in README.md and
docs/*.md resolves, every docs page is linked from the README, docs/settings.md has a row for
every setting, and the README stays a front page.

Pure text checks (no server). Anchors are GitHub's heading slugs, so a renamed heading that
breaks a link from another page fails here rather than on the rendered site.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest


def _repo_root() -> Path:
    """The checkout's root, wherever in tests/ this file sits."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "README.md").is_file():
            return parent
    raise RuntimeError("no pyproject.toml above " + __file__)


ROOT = _repo_root()
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_LIMIT = 12_000

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target) or ![alt](target), target without spaces, optional "title".
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_HREF = re.compile(r"""<a\s[^>]*href=["']([^"']+)["']""", re.IGNORECASE)


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines outside fenced code blocks, with their 1-based numbers."""
    in_fence = False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading text: markup dropped, lowercased, punctuation removed,
    spaces to hyphens (letters, digits, ``-`` and ``_`` stay)."""
    text = _INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML such as <kbd>
    text = text.replace("*", "").lower()
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "-_ " or category[0] in "LN" or category.startswith("M"):
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor GitHub makes for ``page``'s headings (repeats get ``-1``, ``-2``, …)."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    for _, line in _prose_lines(page.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(page: Path) -> Iterator[tuple[int, str]]:
    """Link targets in ``page``'s prose (not in code blocks or inline code)."""
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        prose = _INLINE_CODE.sub("", line)
        for match in _LINK.finditer(prose):
            yield number, match.group(1)
        for match in _HTML_HREF.finditer(prose):
            yield number, match.group(1)


def _is_external(target: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) is not None


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """Each relative link of ``page`` whose file or heading does not exist (or that leaves
    ``root``), as 'path:line: target (why)'."""
    problems = []
    for number, target in links(page):
        if _is_external(target):
            continue
        path_part, _, anchor = target.partition("#")
        where = f"{page.relative_to(root)}:{number}: {target}"
        dest = (page.parent / unquote(path_part)).resolve() if path_part else page
        if not dest.exists():
            problems.append(f"{where} (no such file)")
            continue
        if not dest.is_relative_to(root):
            problems.append(f"{where} (outside the repository)")
            continue
        if anchor and dest.suffix == ".md" and unquote(anchor) not in anchors(dest):
            problems.append(f"{where} (no such heading)")
        elif anchor and dest.suffix != ".md":
            problems.append(f"{where} (anchor into a file that is not Markdown)")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_readme_links_every_docs_page() -> None:
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for _, target in links(README)
        if not _is_external(target) and target.partition("#")[0]
    }
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert missing == [], "README's Documentation list should link every docs/ page"


def test_settings_page_lists_every_setting_once() -> None:
    from deepseek_fim_lsp.config import KEYS

    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Za-z]+)` \|", text, flags=re.MULTILINE)
    assert sorted(rows) == sorted(KEYS), "docs/settings.md's table should have one row per key"


def test_readme_stays_a_front_page() -> None:
    length = len(README.read_text(encoding="utf-8"))
    assert length < README_LIMIT, f"README.md has {length} characters; move reference to docs/"


# --- the checker itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Quick start", "quick-start"),
        (
            "How the prompt is built (and why it is cheap)",
            "how-the-prompt-is-built-and-why-it-is-cheap",
        ),
        ("`complete`", "complete"),
        ("Commands (for editor plugins)", "commands-for-editor-plugins"),
        ("Privacy: what is never sent", "privacy-what-is-never-sent"),
        ("What we do to the model's answer", "what-we-do-to-the-models-answer"),
        ("Keys (insert mode)", "keys-insert-mode"),
        ("Status bar and commands", "status-bar-and-commands"),
        ("Robustness — and troubleshooting", "robustness--and-troubleshooting"),
        ("A [link](x.md) and <kbd>Tab</kbd>", "a-link-and-tab"),
        ("snake_case and Ümlaut", "snake_case-and-ümlaut"),
    ],
)
def test_slug_follows_github(heading: str, expected: str) -> None:
    assert slug(heading) == expected


def test_checker_finds_a_broken_file_an_unknown_anchor_and_ignores_code(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Front\n\n## Quick start\n", encoding="utf-8")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "probe.md"
    page.write_text(
        "# Title\n\n## Title\n\n"
        "[ok](#title) [ok too](#title-1) [fine](../README.md#quick-start)\n"
        "[missing file](nope.md) [missing heading](#nowhere) `[in code](nope.md)`\n"
        "```\n[in a fence](nope.md)\n```\n[web](https://example.com/x#y)\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "docs/probe.md:6: nope.md (no such file)",
        "docs/probe.md:6: #nowhere (no such heading)",
    ]
