"""The grammar wheels load offline and parse; unknown languages fall back to None."""

from __future__ import annotations

import pytest

from deepseek_fim_lsp.syntax.languages import (
    GRAMMARS,
    canonical,
    language_for,
    language_of_path,
    parser_for,
)


@pytest.mark.parametrize("language_id", sorted(GRAMMARS))
def test_every_listed_grammar_loads_and_parses(language_id: str) -> None:
    parser = parser_for(language_id)
    assert parser is not None
    tree = parser.parse(b"x\n")
    assert tree.root_node is not None


def test_parse_finds_a_python_function() -> None:
    parser = parser_for("python")
    assert parser is not None
    tree = parser.parse(b"def area(w, h):\n    return w * h\n")
    node = tree.root_node.children[0]
    assert node.type == "function_definition" and not tree.root_node.has_error


def test_one_parser_per_language_is_reused() -> None:
    assert parser_for("go") is parser_for("go")
    assert language_for("golang") is not None  # an alias


def test_languages_without_a_grammar() -> None:
    assert language_for("plaintext") is None and parser_for("markdown") is None


def test_language_of_path_and_aliases() -> None:
    assert language_of_path("src/app.tsx") == "typescriptreact"
    assert language_of_path("/x/Makefile") == "plaintext"
    assert language_of_path("lib.RS") == "rust"
    assert canonical("C#") == "csharp" and canonical("Python") == "python"
