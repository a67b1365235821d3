"""``python -m deepseek_fim_lsp.emulator``: the same as ``deepseek-fim-lsp emulate``."""

import sys

from .app import emulate_main

sys.exit(emulate_main())
