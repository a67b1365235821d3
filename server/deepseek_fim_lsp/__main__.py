"""``python -m deepseek_fim_lsp`` behaves like the ``deepseek-fim-lsp`` command."""

import sys

from .cli import main

sys.exit(main())
