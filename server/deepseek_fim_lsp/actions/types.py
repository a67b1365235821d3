"""What a code action is asked (:class:`ActionRequest`), what it answers (:class:`Outcome`: edits as
offsets and text, or Markdown) and how it fails (:class:`ActionError`: nothing is applied)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import DeepSeekError
from ..usage import Usage

ActionKind = Literal["explain", "rewrite", "document", "tests", "fix"]
ACTION_KINDS: tuple[ActionKind, ...] = ("explain", "rewrite", "document", "tests", "fix")


class ActionError(DeepSeekError):
    """An action that cannot produce a sound result; nothing is applied."""

    kind = "action"


class TruncatedReply(ActionError):
    kind = "action_truncated"

    def __init__(self, max_tokens: int) -> None:
        super().__init__(
            f"DeepSeek: the answer was cut off at {max_tokens} tokens (`deepseekFim.chatMaxTokens`"
            "), so nothing was changed. Select less code or raise `deepseekFim.chatMaxTokens`."
        )


class EmptyReply(ActionError):
    kind = "action_empty"

    def __init__(self) -> None:
        super().__init__("DeepSeek: the model answered without any code, so nothing was changed.")


@dataclass(frozen=True)
class TextChange:
    start: int
    end: int
    new_text: str


@dataclass(frozen=True)
class FileChange:
    """Edits to one file. ``text`` is its content the offsets refer to ('' for a new file)."""

    uri: str
    text: str
    changes: tuple[TextChange, ...]
    create: bool = False
    version: int | None = None


@dataclass(frozen=True)
class Outcome:
    files: tuple[FileChange, ...] = ()
    markdown: str | None = None
    usage: Usage | None = None
    cost_usd: float = 0.0


@dataclass(frozen=True)
class ActionRequest:
    kind: ActionKind
    uri: str
    text: str
    language_id: str
    start: int
    end: int
    version: int | None = None
    instruction: str | None = None
    diagnostic: str | None = None
    path: Path | None = None  # the file on disk, when the URI is a file: URI
    root: Path | None = None  # the workspace root
    #: Whether a new test file may be created (client supports CreateFile + documentChanges).
    can_create: bool = False
    #: Existing file content (and version) by URI — open documents first, then disk.
    read: Callable[[str], tuple[str, int | None] | None] | None = None

