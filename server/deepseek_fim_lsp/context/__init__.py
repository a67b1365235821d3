"""What the model is shown: the prefix/suffix window under token budgets, snippets from other
files, and what must never be sent (exclusions, redaction)."""
