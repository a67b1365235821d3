"""The whole prompt for one request: repository context, cross-file snippets, the window.

Kept out of the engine so that it only asks for a window: which open documents are worth
scanning, the repository context under its own budget, and the prefix/suffix cut.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..config import Settings
from .crossfile import OpenDocument
from .privacy import is_excluded
from .repo import RepoContext
from .window import FimWindow, build_window

__all__ = ["prompt_window"]

#: Open documents looked at for cross-file snippets, at most.
MAX_OTHERS = 12


def prompt_window(repo: RepoContext, s: Settings, uri: str, text: str, offset: int,
                  language_id: str, others: Sequence[OpenDocument],
                  patterns: Sequence[str]) -> FimWindow:
    """The window for ``text`` at ``offset`` with everything the settings ask for in front."""
    chosen: list[OpenDocument] = []
    if s.cross_file and s.cross_file_tokens:
        # Only the most relevant few are worth scanning: same language first, then the most
        # recently touched (200 open files must not slow every keystroke down).
        ranked = sorted((d for d in others if d.uri != uri),
                        key=lambda d: (d.language_id != language_id, -d.last_touched))
        chosen = [d for d in ranked[:MAX_OTHERS]
                  if not is_excluded(d.uri, patterns) and "\x00" not in d.text]
    header = ""
    if s.repo_context and s.repo_context_tokens:
        header = repo.header(uri, text, offset, language_id, s.repo_context_tokens, others,
                             lambda u: not is_excluded(u, patterns))
    return build_window(
        text, offset, uri=uri, language_id=language_id,
        prefix_tokens=s.prefix_tokens, suffix_tokens=s.suffix_tokens,
        others=chosen, cross_file_tokens=s.cross_file_tokens if s.cross_file else 0,
        sliding=s.sliding_window, context_header=header, chunk_index=repo.chunks,
    )
