"""The debug line names a document by its file name only (issue 13)."""

from __future__ import annotations

import logging

import pytest

from deepseek_fim_lsp.backends.base import Usage
from deepseek_fim_lsp.completion.trace import Trace, document_name
from deepseek_fim_lsp.completion.types import CompletionRequest, CompletionResult
from deepseek_fim_lsp.context.window import build_window


@pytest.mark.parametrize(("uri", "name"), [
    ("file:///home/me/project/src/geo.py", "geo.py"),
    ("file:///C:/Users/me/My%20Project/app%20main.ts", "app main.ts"),
    ("untitled:Untitled-1", "Untitled-1"),
    ("untitled:script", "script"),
    ("file:///home/me/geo.py#3", "geo.py"),
])
def test_document_name_is_the_file_name(uri: str, name: str) -> None:
    assert document_name(uri) == name


def test_the_line_holds_figures_and_no_text(caplog: pytest.LogCaptureFixture) -> None:
    text = "secret_value = compute(\n"
    req = CompletionRequest("file:///a/b/mod.py", text, len(text) - 1, "python", invoked=True)
    trace = Trace()
    trace.built(req, build_window(text, req.offset, uri=req.uri, language_id="python",
                                  prefix_tokens=100, suffix_tokens=100))
    with caplog.at_level(logging.DEBUG, logger="deepseek_fim_lsp"):
        trace.answered(req, CompletionResult((), "backend", usage=Usage(64, 3, 5),
                                             latency_ms=12.4))
        # another state of the document: the window built before is not this request's
        trace.answered(CompletionRequest(req.uri, text + "x", 1), CompletionResult((), "cache"))
    first, second = (r.getMessage() for r in caplog.records)
    assert first.startswith("completion doc=mod.py trigger=invoked decision=backend "
                            "prompt_tokens=") and "cache_hit_tokens=64 items=0 latency_ms=12" \
        in first
    assert "suffix_tokens=-" not in first
    assert "prompt_tokens=- suffix_tokens=- cache_hit_tokens=-" in second
    assert "trigger=automatic decision=cache" in second
    for line in (first, second):
        assert "secret" not in line and "compute" not in line and "/a/b" not in line
