"""deepseek-fim-lsp: AI code completion for any editor through DeepSeek's FIM endpoint.

``from deepseek_fim_lsp import complete, acomplete, CompletionOutcome`` is the Python API (see
:mod:`.headless.api`); it is imported on first use so that ``import deepseek_fim_lsp`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

__all__ = ["CompletionOutcome", "__version__", "acomplete", "complete"]

if TYPE_CHECKING:
    from .headless.api import CompletionOutcome, acomplete, complete


def __getattr__(name: str) -> Any:
    if name in ("complete", "acomplete", "CompletionOutcome"):
        from .headless import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
