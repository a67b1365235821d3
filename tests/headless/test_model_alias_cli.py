"""A model that is served but not listed, through ``check`` and ``complete`` (issue 13):
``check`` notes "not listed" and passes when the completion works; a model the API does not
serve fails with the ids on offer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import run

from conftest import TEST_KEY
from deepseek_fim_lsp.emulator import Emulator

#: As the newest docs have it: two ids listed, the older one still answered.
LISTED = ("deepseek-flash", "deepseek-v4-pro")
ALIAS = "deepseek-v4-flash"


@pytest.fixture
def newer_api() -> Iterator[Emulator]:
    with Emulator(api_keys=(TEST_KEY,), models=LISTED, aliases=(ALIAS,)) as emu:
        yield emu


def test_check_notes_not_listed_when_the_completion_works(newer_api: Emulator,
                                                          tmp_path: Path) -> None:
    r = run(tmp_path, newer_api.base_url, "check", "--model", ALIAS)
    assert r.code == 0, r.out
    assert "✗" not in r.out and "all good" in r.out
    (note,) = [ln for ln in r.out.splitlines() if "not listed" in ln]
    assert ALIAS in note and not note.startswith("✓")
    assert "FIM completion answered" in r.out


def test_check_and_complete_fail_on_a_model_that_is_not_served(newer_api: Emulator,
                                                               tmp_path: Path) -> None:
    r = run(tmp_path, newer_api.base_url, "check", "--model", "deepseek-chat")
    assert r.code == 4
    assert "✗ model deepseek-chat is not offered" in r.out
    assert "deepseek-flash, deepseek-v4-pro" in r.out
    (tmp_path / "a.py").write_text("x = \n", encoding="utf-8")
    r = run(tmp_path, newer_api.base_url, "complete", "a.py:1:5", "--model", "deepseek-chat",
            "--json")
    assert r.code == 4 and r.out == ""
    assert "does not offer the model 'deepseek-chat'" in r.err
    assert "deepseek-flash, deepseek-v4-pro" in r.err
    r = run(tmp_path, newer_api.base_url, "complete", "a.py:1:5", "--model", ALIAS, "--json")
    assert r.code == 0 and json.loads(r.out)["model"] == ALIAS
