"""The VS Code extension: its unit tests (node) and an end-to-end run in a real VS Code.

The end-to-end test (editors/vscode/test/e2e/run.js) packages the extension, installs the .vsix
into code-server 4.100.3, drives it with Debian chromium through playwright-core against the real
server and the emulator, and checks what a user sees: the status bar reaches ready; typing shows
the scripted suggestion as ghost text and Tab + Ctrl+S puts exactly that on disk; "Set API Key"
makes the server use the stored key (not written to settings.json); the status bar menu toggles
completion and shows statistics; "Rewrite Selection…" and the server's "Rewrite…" code action
apply the model's rewrite; a missing server gives a notification saying how to install it.
That run turns quick suggestions off (Tab must reach the ghost text, not a suggest widget).

A second run (editors/vscode/test/e2e/defaults.js) keeps VS Code's default editor settings, as a
new user has them: text typed while the server starts gets its ghost text without another key,
and a typing session of realistic Python at about 90 ms a key stays under a ceiling of FIM
requests per 100 typed characters (the emulator's request log counts them).

Nothing here skips: when the tools are missing, ``setup.sh`` installs them (it is idempotent and
returns at once when everything is there); if that is impossible the tests fail and say why.
"""

from __future__ import annotations

import json
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
E2E_DEFAULTS = EXT_DIR / "test" / "e2e" / "defaults.js"
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


# FIM requests per 100 typed characters with VS Code's default settings. Measured in seven runs
# on a loaded 2-core machine: 0.7 to 8.3 (1 to 12 requests for 144 keys, median 2.8); where they
# fell changed from run to run, as where a busy page leaves a gap between keys longer than the
# server's 150 ms debounce. Before the request discipline of issue 13: 52 to 59 (each of the
# suggest widget's classic completions paid for a call). The ceiling sits above the worst run
# seen and five times below that.
MAX_FIM_PER_100_KEYS = 10.0


def _e2e(script: Path) -> subprocess.CompletedProcess[str]:
    assert SERVER.exists(), f"the server executable is missing: {SERVER}"
    return _run(
        ["node", str(script)],
        timeout=400,
        DFL_PYTHON=sys.executable,
        DFL_SERVER=str(SERVER),
    )


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
    proc = _e2e(E2E)
    assert proc.returncode == 0, f"VS Code e2e failed ({proc.returncode}):\n{proc.stdout}"
    assert "PASSED" in proc.stdout, proc.stdout



def test_default_settings_first_launch_and_request_cost(vscode_tools: None) -> None:
    """Default editor settings: ghost text for keys typed before the server was ready, and a
    typing session that costs few FIM requests although the suggest widget asks on every key."""
    proc = _e2e(E2E_DEFAULTS)
    assert proc.returncode == 0, f"VS Code defaults e2e failed ({proc.returncode}):\n{proc.stdout}"
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT:")), None)
    assert line is not None, proc.stdout
    result = json.loads(line[len("RESULT:"):])
    summary = json.dumps(result, indent=1)
    print(summary)  # the figures, with -s

    # First launch: the keys really went in before the server was ready, and their ghost text
    # came without another one, from an automatic request (not the explicit three samples). One
    # FIM request in most runs; once, on a loaded machine, two were seen.
    assert result["typed_before_ready"] is True, summary
    assert result["first_launch_ghost"] == "(41) + 1", summary
    assert result["first_launch_lsp"].get("inline:triggerKind=1", 0) == 0, summary
    assert 1 <= result["first_launch_fim_requests"] <= 2, summary

    # The session: the suggest widget did ask (or this measures nothing), the text is what was
    # typed, a suggestion shows once the user stops, and the cost stays under the ceiling.
    lsp_asked = result["session_lsp"]
    assert lsp_asked.get("completion:triggerKind=1", 0) >= 10, summary
    typed_tail = "def spread(values):\n    return max(values) - min(values)"
    assert typed_tail in result["final_text"], summary
    assert result["ghost_after_session"] != "", summary
    assert result["session_keys"] >= 100, summary
    assert result["fim_per_100_keys"] <= MAX_FIM_PER_100_KEYS, summary
