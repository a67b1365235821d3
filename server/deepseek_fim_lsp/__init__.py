"""deepseek-fim-lsp: AI code completion for any editor through DeepSeek's FIM endpoint."""

__version__ = "0.1.0"
