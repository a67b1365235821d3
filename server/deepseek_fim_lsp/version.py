"""The package version (one place: the LSP server and the CLI report it)."""

__version__ = "0.1.0"
