"""Golden corpus: raw model answers → the document after accepting the suggestion.

Unit level: ``choose_mode`` + ``clean`` (and the same answer streamed in small chunks through
``early_stop``). End to end: every case through the real server over stdio against the
emulator, all in one server session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from conftest import lsp_session
from deepseek_fim_lsp.emulator import Emulator, Reply, Rule
from deepseek_fim_lsp.postprocess import Suggestion, choose_mode, clean, early_stop

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CURSOR = "<CURSOR>"
_SECTION = re.compile(r"^--- (\w+) ---$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    name: str
    language: str
    setting: str
    prefix: str
    suffix: str
    raw: str
    expected: str | None  # None: no suggestion must be shown

    @property
    def document(self) -> str:
        return self.prefix + self.suffix


def load_case(path: Path) -> Case:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n"), f"{path.name}: must end with a line break"
    text = text[:-1]
    marks = list(_SECTION.finditer(text))
    assert marks, f"{path.name}: no sections"
    header: dict[str, str] = {}
    for line in text[: marks[0].start()].splitlines():
        if line.strip():
            key, _, value = line.partition(":")
            header[key.strip()] = value.strip()
    sections: dict[str, str] = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() - 1 if i + 1 < len(marks) else len(text)
        sections[m.group(1)] = text[m.end() + 1 : end] if m.end() < end else ""
    crlf = header.get("crlf") == "true"
    document = sections["document"]
    assert document.count(CURSOR) == 1, f"{path.name}: need exactly one {CURSOR}"
    raw = sections["raw"]
    expected: str | None = sections.get("expected")
    if header.get("expected_empty") == "true":
        assert expected is None, f"{path.name}: expected_empty with an expected section"
    else:
        assert expected is not None, f"{path.name}: no expected section"
    if crlf:
        document = document.replace("\n", "\r\n")
        expected = expected.replace("\n", "\r\n") if expected is not None else None
    if header.get("raw_crlf") == "true":
        raw = raw.replace("\n", "\r\n")
    prefix, suffix = document.split(CURSOR)
    return Case(
        name=path.stem,
        language=header["language"],
        setting=header.get("setting", "auto"),
        prefix=prefix,
        suffix=suffix,
        raw=raw,
        expected=expected,
    )


CASES = [load_case(p) for p in sorted(GOLDEN.glob("*.case"))]


def apply(case: Case, s: Suggestion | None) -> str | None:
    if s is None:
        return None
    assert 0 <= s.replace, s
    replaced = case.suffix[: s.replace]
    assert "\n" not in replaced and "\r" not in replaced, "replace must stay on the cursor line"
    return case.prefix + s.text + case.suffix[s.replace :]


def run_unit(case: Case) -> str | None:
    mode = choose_mode(case.prefix, case.suffix, case.setting)  # type: ignore[arg-type]
    return apply(case, clean(case.raw, prefix=case.prefix, suffix=case.suffix, mode=mode))


def run_streamed(case: Case, chunk: int) -> str | None:
    """Feed the answer in chunks like the engine does; stop where early_stop says."""
    mode = choose_mode(case.prefix, case.suffix, case.setting)  # type: ignore[arg-type]
    acc = ""
    for i in range(0, len(case.raw), chunk):
        acc += case.raw[i : i + chunk]
        stop = early_stop(acc, mode=mode, prefix=case.prefix, suffix=case.suffix)
        if stop is not None:
            assert 0 <= stop <= len(acc)
            acc = acc[:stop]
            break
    return apply(case, clean(acc, prefix=case.prefix, suffix=case.suffix, mode=mode))


def test_corpus_is_broad() -> None:
    assert len(CASES) >= 40
    by_language: dict[str, int] = {}
    for c in CASES:
        family = {"typescript": "ts/js", "javascript": "ts/js"}.get(c.language, c.language)
        by_language[family] = by_language.get(family, 0) + 1
    for family in ("python", "ts/js", "go", "rust", "c", "java"):
        assert by_language.get(family, 0) >= 5, (family, by_language)
    assert sum(1 for c in CASES if c.expected is None) >= 5
    assert any("\r\n" in c.prefix + c.suffix for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_unit(case: Case) -> None:
    assert run_unit(case) == case.expected


@pytest.mark.parametrize("chunk", [1, 3, 7])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_streaming_gives_the_same_answer(case: Case, chunk: int) -> None:
    assert run_streamed(case, chunk) == case.expected


# ----------------------------------------------------------------------------- end to end

_EXT = {"python": "py", "typescript": "ts", "javascript": "js", "go": "go", "rust": "rs",
        "c": "c", "java": "java"}


def _utf16_position(text: str, offset: int) -> lsp.Position:
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text[start:offset])
    return lsp.Position(line=line, character=units)


def _utf16_offset(text: str, pos: lsp.Position) -> int:
    offset = 0
    for _ in range(pos.line):
        offset = text.index("\n", offset) + 1
    units = 0
    while units < pos.character:
        assert text[offset] not in "\r\n", "position past the end of its line"
        units += 2 if ord(text[offset]) > 0xFFFF else 1
        offset += 1
    assert units == pos.character, "position inside a surrogate pair"
    return offset


def _apply_item(text: str, item: lsp.InlineCompletionItem) -> str:
    """Apply an inline item the way an editor does: ``insertText`` over ``range`` (UTF-16)."""
    insert = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    if item.range is None:
        return text  # pragma: no cover - the server always sends a range
    start = _utf16_offset(text, item.range.start)
    end = _utf16_offset(text, item.range.end)
    return text[:start] + insert + text[end:]


async def test_golden_end_to_end(tmp_path: Path, emulator: Emulator) -> None:
    """Every case through the real server (one session, one document per case)."""
    failures: list[str] = []
    base = {"debounceMs": 0, "invokedSuggestions": 1}
    async with lsp_session(tmp_path, emulator.base_url, init_options=base) as session:
        setting = "auto"
        for i, case in enumerate(CASES):
            if case.setting != setting:
                setting = case.setting
                session.client.workspace_did_change_configuration(
                    lsp.DidChangeConfigurationParams(
                        settings={"deepseekFim": {**base, "multiline": setting}}))
            emulator.reset()
            emulator.add_rule(Rule(reply=Reply(text=case.raw)))
            uri = f"file:///golden/{i:02d}-{case.name}.{_EXT[case.language]}"
            session.open(uri, case.document, case.language)
            pos = _utf16_position(case.document, len(case.prefix))
            result = await session.inline(uri, pos.line, pos.character, invoked=True)
            assert emulator.requests("/beta/completions"), f"{case.name}: no FIM request"
            items = result.items if isinstance(result, lsp.InlineCompletionList) else result
            got = _apply_item(case.document, items[0]) if items else None
            if got != case.expected:
                failures.append(f"{case.name}:\n  expected {case.expected!r}\n  got      {got!r}")
    assert not failures, "\n".join(failures)
