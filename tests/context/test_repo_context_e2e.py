"""Repository context end to end: the installed server over LSP and the ``complete`` command,
against the emulator. What the server opens is recorded by a Python audit hook in the server
process (every ``open``/``scandir`` it makes), so "never read" is checked, not inferred."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from conftest import TEST_KEY, lsp_session, server_env
from deepseek_fim_lsp.emulator import Emulator

HELPER = (
    'def build_request(method: str, url: str, *, timeout: float = 5.0) -> dict[str, str]:\n'
    '    """Build the request sent to the API."""\n'
    "    return {'method': method, 'url': url}\n"
)
MAIN = "from client.helpers import build_request\n\n\ndef go():\n    return build_request("

AUDIT = (
    "import sys, os\n"
    "log = open(os.environ['FIM_TEST_OPEN_LOG'], 'w', buffering=1)\n"
    "def hook(event, args):\n"
    "    if event in ('open', 'os.scandir', 'os.listdir') and args and isinstance(args[0], str):\n"
    "        log.write(event + ' ' + args[0] + '\\n')\n"
    "sys.addaudithook(hook)\n"
)


def project(root: Path) -> Path:
    (root / "client").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'client'\n")
    (root / "client/__init__.py").write_text("")
    (root / "client/helpers.py").write_text(HELPER)
    (root / "client/main.py").write_text(MAIN)
    return root / "client/main.py"


def opened(log: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines()
            if line.startswith("open ")]


def fim_prompts(emu: Emulator) -> list[str]:
    return [r.body["prompt"] for r in emu.requests("/beta/completions")]


async def test_lsp_prompt_carries_the_definition_of_a_file_that_is_not_open(
    tmp_path: Path, emulator: Emulator
) -> None:
    main = project(tmp_path)
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(main.as_uri(), MAIN)
        await s.inline(main.as_uri(), 4, len("    return build_request("), invoked=True)
    (prompt,) = fim_prompts(emulator)
    assert prompt.startswith("# Path: helpers.py\ndef build_request(method: str, url: str, *, "
                             "timeout: float = 5.0) -> dict[str, str]:\n"
                             '    """Build the request sent to the API."""\n'
                             "# Path: main.py\nfrom client.helpers import build_request\n")
    assert "return {'method'" not in prompt  # the body stays out


async def test_lsp_repo_context_off_and_workspace_folders(tmp_path: Path,
                                                         emulator: Emulator) -> None:
    main = project(tmp_path)
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={"repoContext": False}) as s:
        s.open(main.as_uri(), MAIN)
        await s.inline(main.as_uri(), 4, len("    return build_request("), invoked=True)
    assert fim_prompts(emulator) == [MAIN]


def run_complete(tmp_path: Path, base_url: str, target: str, log: Path,
                 *extra: str) -> subprocess.CompletedProcess[str]:
    env = server_env(base_url, TEST_KEY, HOME=str(tmp_path / "home"),
                     FIM_TEST_OPEN_LOG=str(log))
    code = AUDIT + ("sys.argv = ['deepseek-fim-lsp', 'complete', *sys.argv[1:]]\n"
                    "from deepseek_fim_lsp.cli import main\nsys.exit(main())")
    return subprocess.run([sys.executable, "-c", code, target, "--json", *extra],
                          env=env, capture_output=True, text=True, timeout=60,
                          cwd=str(tmp_path))


def test_complete_reads_the_imported_file_from_the_project_root(
    tmp_path: Path, emulator: Emulator
) -> None:
    main = project(tmp_path / "ws")
    log = tmp_path / "opened.log"
    r = run_complete(tmp_path, emulator.base_url, f"{main}:5:25", log)
    assert r.returncode in (0, 3), r.stderr
    (prompt,) = fim_prompts(emulator)
    assert prompt.startswith("# Path: helpers.py\ndef build_request(")
    assert str(tmp_path / "ws/client/helpers.py") in opened(log)


def test_complete_never_reads_excluded_or_outside_files(tmp_path: Path,
                                                         emulator: Emulator) -> None:
    ws = tmp_path / "ws"
    main = project(ws)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_text("def leak(): ...\n")
    (ws / "client/secrets.py").write_text("def token(): return 'x'\n")
    (ws / "client/escape.py").symlink_to(outside / "evil.py")
    (ws / "client/vendored.py").write_text("def vendored(): ...\n")
    (ws / ".gitignore").write_text("client/vendored.py\n")
    text = ("from client.secrets import token\nfrom client.escape import leak\n"
            "from client.vendored import vendored\nfrom ...outside.evil import leak as l2\n"
            + MAIN + "token(), leak(), vendored(), ")
    main.write_text(text)
    log = tmp_path / "opened.log"
    last = text.count("\n") + 1
    col = len(text) - text.rfind("\n")
    r = run_complete(tmp_path, emulator.base_url, f"{main}:{last}:{col}", log,
                     "--set", 'exclude=["secrets.py"]')
    assert r.returncode in (0, 3), r.stderr
    (prompt,) = fim_prompts(emulator)
    assert "def build_request(" in prompt  # the allowed import is still there
    for word in ("def token", "def leak", "def vendored"):
        assert word not in prompt
    files = opened(log)
    for bad in (ws / "client/secrets.py", ws / "client/escape.py", outside / "evil.py",
                ws / "client/vendored.py"):
        assert str(bad) not in files, bad


def test_a_10k_file_tree_is_not_walked(tmp_path: Path, emulator: Emulator) -> None:
    ws = tmp_path / "ws"
    main = project(ws)
    for i in range(100):
        d = ws / f"pkg{i}"
        d.mkdir()
        (d / "__init__.py").write_text("")
        for j in range(100):
            (d / f"m{j}.py").write_text(f"def f{j}(): return {i}\n")
    log = tmp_path / "opened.log"
    r = run_complete(tmp_path, emulator.base_url, f"{main}:5:25", log)
    assert r.returncode in (0, 3), r.stderr
    ours = [p for p in opened(log) if p.startswith(str(ws))]
    assert str(ws / "client/helpers.py") in ours
    assert len(ours) <= 5, ours  # the current file, .gitignore probes, the imported file
    scans = [line for line in log.read_text().splitlines()
             if line.startswith(("os.scandir", "os.listdir")) and str(ws) in line]
    assert scans == []
    assert json.loads(r.stdout)["text"] is not None


async def test_lsp_never_reads_excluded_or_outside_files_and_shows_recent_edits(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, emulator: Emulator
) -> None:
    main = project(tmp_path)
    outside = tmp_path_factory.mktemp("outside")
    (outside / "evil.py").write_text("def leak(): ...\n")
    (tmp_path / "client/escape.py").symlink_to(outside / "evil.py")
    (tmp_path / "client/secrets.py").write_text("def token(): return 'x'\n")
    text = "from client.secrets import token\nfrom client.escape import leak\n" + MAIN
    main.write_text(text)
    other = tmp_path / "client/other.py"
    other.write_text("def other():\n    pass\n")
    log = tmp_path / "opened.log"
    env = {"FIM_TEST_PRELUDE": AUDIT, "FIM_TEST_OPEN_LOG": str(log)}
    async with lsp_session(tmp_path, emulator.base_url, env=env,
                           init_options={"exclude": ["secrets.py"]}) as s:
        s.open(other.as_uri(), other.read_text())
        s.insert(other.as_uri(), 1, 4, "limit = compute_limit(3)\n    ")
        s.open(main.as_uri(), text)
        await s.inline(main.as_uri(), 6, len("    return build_request("), invoked=True)
    (prompt,) = fim_prompts(emulator)
    assert "def build_request(" in prompt
    assert "# Path: other.py (edited, line 1)\ndef other():\n    limit = compute_limit(3)\n" \
        in prompt
    assert "def token" not in prompt and "def leak" not in prompt
    files = opened(log)
    assert str(tmp_path / "client/helpers.py") in files  # the log does record reads
    for bad in (tmp_path / "client/secrets.py", tmp_path / "client/escape.py",
                outside / "evil.py"):
        assert str(bad) not in files, bad


def test_python_api_reads_the_imported_file_of_the_project(tmp_path: Path,
                                                           emulator: Emulator) -> None:
    from deepseek_fim_lsp import complete

    main = project(tmp_path / "ws")
    complete(MAIN, len(MAIN), path=main, api_key=TEST_KEY, base_url=emulator.base_url)
    complete(MAIN, len(MAIN) - 1, path=main, api_key=TEST_KEY, base_url=emulator.base_url,
             repo_context=False)
    with_repo, without = fim_prompts(emulator)
    assert with_repo.startswith("# Path: helpers.py\ndef build_request(")
    assert without == MAIN[:-1]


async def test_lsp_workspace_folders_removed_and_added(tmp_path: Path,
                                                      emulator: Emulator) -> None:
    main = project(tmp_path)
    col = len("    return build_request(")
    async with lsp_session(tmp_path, emulator.base_url) as s:
        folders = s.capabilities.workspace and s.capabilities.workspace.workspace_folders
        assert folders and folders.supported and folders.change_notifications
        folder = lsp.WorkspaceFolder(uri=tmp_path.as_uri(), name="ws")
        s.client.workspace_did_change_workspace_folders(lsp.DidChangeWorkspaceFoldersParams(
            lsp.WorkspaceFoldersChangeEvent(added=[], removed=[folder])))
        s.open(main.as_uri(), MAIN)
        await s.inline(main.as_uri(), 4, col, invoked=True)
        s.client.workspace_did_change_workspace_folders(lsp.DidChangeWorkspaceFoldersParams(
            lsp.WorkspaceFoldersChangeEvent(added=[folder], removed=[])))
        s.insert(main.as_uri(), 4, col, "m")  # another state: not answered from the cache
        await s.inline(main.as_uri(), 4, col + 1, invoked=True)
    outside, inside = fim_prompts(emulator)
    assert outside == MAIN  # no workspace: nothing is read
    assert inside.startswith("# Path: helpers.py\ndef build_request(")
