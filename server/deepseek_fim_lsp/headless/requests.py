"""The input lines of ``complete --batch``: one JSON object each, a position in a file or the text
around the cursor, with optional per-request settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..completion.types import CompletionRequest
from ..config import Settings
from ..errors import DeepSeekError, MissingKeyError
from .api import InputError, SettingsError, guess_language, offset_of, overlay, uri_for
from .textfile import read_text_file

FIELDS = {"id", "file", "line", "column", "prefix", "suffix", "language", "settings"}


class TaggedError(Exception):
    """An error for a request whose id is already known."""

    def __init__(self, rid: Any, error: DeepSeekError) -> None:
        super().__init__(error.user_message)
        self.rid = rid
        self.error = error


def request_id(number: int, raw: str) -> Any:
    """The line's ``id``, else its line number (also for a line that is not JSON)."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return number
    return obj.get("id", number) if isinstance(obj, dict) else number


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_line(index: int, number: int, raw: str,
               base: Settings) -> tuple[Any, Settings, CompletionRequest]:
    """Input line ``number`` (job ``index``) as ``(id, settings, request)``.

    Errors are :class:`~.api.InputError` / :class:`~.api.SettingsError`; once the id is known
    they come wrapped in :class:`TaggedError` so the error line can carry it.
    """
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"line {number}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise InputError(f"line {number}: expected a JSON object")
    rid = obj.get("id", number)
    unknown = sorted(set(obj) - FIELDS)
    if unknown:
        raise TaggedError(rid, InputError(f"line {number}: unknown field(s) {unknown}; "
                                          f"expected {sorted(FIELDS)}"))
    try:
        return rid, *_request(index, number, obj, base)
    except DeepSeekError as err:
        raise TaggedError(rid, err) from None


def _request(index: int, number: int, obj: dict[str, Any],
             base: Settings) -> tuple[Settings, CompletionRequest]:
    extra = obj.get("settings")
    if extra is not None and not isinstance(extra, dict):
        raise SettingsError([f"line {number}: `settings` must be an object"])
    settings = overlay(extra or {}, base, f"line {number}") if extra else base
    language = obj.get("language")
    if language is not None and not isinstance(language, str):
        raise InputError(f"line {number}: `language` must be a string")
    if "file" in obj:
        name, line, column = obj["file"], obj.get("line"), obj.get("column")
        if not isinstance(name, str) or not name:
            raise InputError(f"line {number}: `file` must be a path")
        if not (isinstance(line, int) and isinstance(column, int)
                and _whole(line) and _whole(column)):
            raise InputError(f"line {number}: `line` and `column` (1-based whole numbers) "
                             "are needed with `file`")
        text = read_text_file(name).text
        offset = offset_of(text, line, column, name)
        uri = uri_for(Path(name), tag=f"batch-{index}")
        language = language or guess_language(name)
    elif "prefix" in obj:
        prefix, suffix = obj["prefix"], obj.get("suffix", "")
        if not isinstance(prefix, str) or not isinstance(suffix, str):
            raise InputError(f"line {number}: `prefix` and `suffix` must be strings")
        text, offset = prefix + suffix, len(prefix)
        uri = f"untitled:batch-{index}"
    else:
        raise InputError(f"line {number}: give `file` + `line` + `column`, or `prefix` "
                         "(+ `suffix`)")
    if not settings.api_key:
        raise MissingKeyError()
    req = CompletionRequest(uri, text, offset, language_id=language or "plaintext",
                            invoked=True)
    return settings, req
