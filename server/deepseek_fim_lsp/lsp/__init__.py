"""The language server: stdio transport, open documents, thin handlers over the engine."""
