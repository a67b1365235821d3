"""The VS Code extension: its unit tests (node) and an end-to-end run in a real VS Code.

The end-to-end test (editors/vscode/test/e2e/run.js) packages the extension, installs the .vsix
into code-server 4.100.3, drives it with Debian chromium through playwright-core against the real
server and the emulator, and checks what a user sees: the status bar reaches ready; typing shows
the scripted suggestion as ghost text and Tab + Ctrl+S puts exactly that on disk; "Set API Key"
makes the server use the stored key (not written to settings.json); the status bar menu toggles
completion and shows statistics; "Rewrite Selection…" and the server's "Rewrite…" code action
apply the model's rewrite; a missing server gives a notification saying how to install it.

Nothing here skips: when the tools are missing, ``setup.sh`` installs them (it is idempotent and
returns at once when everything is there); if that is impossible the tests fail and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXT_DIR = REPO / "editors" / "vscode"
SETUP = EXT_DIR / "test" / "e2e" / "setup.sh"
E2E = EXT_DIR / "test" / "e2e" / "run.js"
SERVER = Path(sys.executable).parent / "deepseek-fim-lsp"

# Setup on a clean machine takes a few minutes; the e2e itself about a minute.
pytestmark = pytest.mark.timeout(1200)


def _env() -> dict[str, str]:
    """The caller's environment without DeepSeek settings, so only the test's own apply."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK_")}


def _run(args: list[str], timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args,
            cwd=EXT_DIR,
            env={**_env(), **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
        pytest.fail(f"{' '.join(args)} did not finish within {timeout} s:\n{out}")


@pytest.fixture(scope="module")
def vscode_tools() -> None:
    """Node, the extension's npm dependencies, code-server and playwright-core (via setup.sh)."""
    if shutil.which("node") is None and os.geteuid() != 0:
        pytest.fail("Node.js 20 is needed for the VS Code extension tests (run setup.sh as root)")
    proc = _run(["bash", str(SETUP)], timeout=1100)
    assert proc.returncode == 0, f"setup.sh failed ({proc.returncode}):\n{proc.stdout}"


def test_extension_unit_tests(vscode_tools: None) -> None:
    """Settings mapping, key merge, status bar view, stats text, server lookup (node --test)."""
    proc = _run(["npm", "test", "--silent"], timeout=180)
    assert proc.returncode == 0, f"npm test failed ({proc.returncode}):\n{proc.stdout}"
    assert "# fail 0" in proc.stdout, proc.stdout
    assert "# pass 0" not in proc.stdout, "node --test ran no test:\n" + proc.stdout


def test_extension_end_to_end_in_vscode(vscode_tools: None) -> None:
    """Ghost text from the emulator appears in real VS Code, Tab accepts it, the file holds it."""
    assert SERVER.exists(), f"the server executable is missing: {SERVER}"
    proc = _run(
        ["node", str(E2E)],
        timeout=400,
        DFL_PYTHON=sys.executable,
        DFL_SERVER=str(SERVER),
    )
    assert proc.returncode == 0, f"VS Code e2e failed ({proc.returncode}):\n{proc.stdout}"
    assert "PASSED" in proc.stdout, proc.stdout
