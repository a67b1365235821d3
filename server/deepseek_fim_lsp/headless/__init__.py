"""Completion without an editor: the ``complete`` and ``check`` commands, ``complete --batch``
and the Python API (``deepseek_fim_lsp.complete``/``acomplete``)."""
