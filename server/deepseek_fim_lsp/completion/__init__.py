"""The completion pipeline: a request in, suggestions out, free of LSP (engine, scheduler, cache,
one FIM call, the types that go in and out)."""
