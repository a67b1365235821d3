"""The ``complete`` and ``check`` commands, run as real subprocesses against the emulator."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import TEST_KEY, server_env
from deepseek_fim_lsp.emulator import Emulator, LoggedRequest, Reply, Rule

SOURCE = "def add(a, b):\n    return \n\nprint(add(1, 2))\n"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


def env_for(tmp_path: Path, base_url: str, key: str | None = TEST_KEY,
            **extra: str) -> dict[str, str]:
    env = server_env(base_url, key, HOME=str(tmp_path / "home"),
                     XDG_CONFIG_HOME=str(tmp_path / "config"),
                     XDG_STATE_HOME=str(tmp_path / "state"),
                     DEEPSEEK_FIM_RETRY_BASE_MS="20", **extra)
    env.pop("DEEPSEEK_FIM_STATE_DIR", None)
    return env


def run(tmp_path: Path, base_url: str, *args: str, key: str | None = TEST_KEY,
        stdin: str | None = None, timeout: float = 20, **extra: str) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "deepseek_fim_lsp", *args], cwd=tmp_path,
        env=env_for(tmp_path, base_url, key, **extra), input=stdin.encode() if stdin else None,
        stdin=None if stdin is not None else subprocess.DEVNULL, capture_output=True,
        timeout=timeout)
    result = Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))
    for secret in {TEST_KEY, key or TEST_KEY}:  # no output ever shows a key
        assert secret not in result.out and secret not in result.err
    return result


def fims(emu: Emulator) -> list[LoggedRequest]:
    return emu.requests("/beta/completions")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "add.py"
    path.write_text(SOURCE, encoding="utf-8")
    return path


@pytest.fixture
def no_state_written(tmp_path: Path) -> Iterator[None]:
    yield
    assert not (tmp_path / "state").exists()  # scripts keep no usage files


# --- single completion ---------------------------------------------------------------------------


def test_complete_prints_the_text_and_sends_prefix_and_suffix(
        emulator: Emulator, tmp_path: Path, src: Path, no_state_written: None) -> None:
    emulator.script(Reply(text="a + b"))
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12")
    assert (r.code, r.out) == (0, "a + b")
    (req,) = fims(emulator)
    assert req.body["prompt"] == "def add(a, b):\n    return "
    assert req.body["suffix"] == "\n\nprint(add(1, 2))\n"
    assert req.body["model"] == "deepseek-v4-flash" and req.body["max_tokens"] == 128
    assert src.read_text() == SOURCE  # no --apply: untouched


def test_complete_json_has_range_usage_and_cost(emulator: Emulator, tmp_path: Path,
                                                src: Path) -> None:
    emulator.script(Reply(text="a + b"))
    r = run(tmp_path, emulator.base_url, "complete", "--json", "add.py", "--line", "2",
            "--column", "12")
    assert r.code == 0
    (data,) = r.lines()
    assert data["text"] == "a + b" and data["replace"] == 0
    assert data["range"] == {"start": {"line": 1, "character": 11},
                             "end": {"line": 1, "character": 11}}
    usage = fims(emulator)[0].usage
    assert usage is not None
    assert data["usage"] == {"cacheHitTokens": usage["prompt_cache_hit_tokens"],
                             "cacheMissTokens": usage["prompt_cache_miss_tokens"],
                             "completionTokens": usage["completion_tokens"]}
    assert data["model"] == "deepseek-v4-flash" and data["cached"] is False
    assert data["cost"] > 0 and data["latency_ms"] >= 0


def test_column_counts_characters_not_utf16_units(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "e.py").write_text('s = "😀😀ab"\n', encoding="utf-8")
    r = run(tmp_path, emulator.base_url, "complete", "--json", "e.py:1:9")
    assert r.code == 0
    req = fims(emulator)[0]
    assert req.body["prompt"] == 's = "😀😀a'  # 8 characters before column 9
    assert req.body["suffix"].startswith('b"')
    assert r.lines()[0]["range"]["start"] == {"line": 0, "character": 8}


def test_stdin_with_marker(emulator: Emulator, tmp_path: Path) -> None:
    emulator.script(Reply(text="x * 2"))
    r = run(tmp_path, emulator.base_url, "complete", "-", "--marker", "<CURSOR>",
            stdin="def double(x):\n    return <CURSOR>\n# end\n")
    assert (r.code, r.out) == (0, "x * 2")
    req = fims(emulator)[0]
    assert req.body["prompt"] == "def double(x):\n    return "
    assert req.body["suffix"] == "\n# end\n"


def test_stdin_with_line_and_column(emulator: Emulator, tmp_path: Path) -> None:
    r = run(tmp_path, emulator.base_url, "complete", "-", "--line", "1", "--column", "3",
            stdin="abcd\n")
    assert r.code == 0
    assert fims(emulator)[0].body["prompt"] == "ab"


def test_apply_writes_the_file_and_keeps_its_mode(emulator: Emulator, tmp_path: Path,
                                                  src: Path) -> None:
    src.chmod(0o640)
    emulator.script(Reply(text="a + b"))
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12", "--apply")
    assert (r.code, r.out) == (0, "a + b")
    assert src.read_bytes() == b"def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n"
    assert stat.S_IMODE(src.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["add.py"]


def test_apply_keeps_crlf_and_bom(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_bytes(b"\xef\xbb\xbfx = 1\r\nif x:\r\nprint(x)\r\n")
    emulator.script(Reply(text="\n    y = x\n    x = y"))
    r = run(tmp_path, emulator.base_url, "complete", "w.py:2:6", "--apply", "--json")
    assert r.code == 0 and r.lines()[0]["applied"] is True
    assert fims(emulator)[0].body["prompt"] == "x = 1\r\nif x:"  # BOM not sent
    assert path.read_bytes() == (b"\xef\xbb\xbfx = 1\r\nif x:\r\n    y = x\r\n    x = y\r\n"
                                 b"print(x)\r\n")


def test_apply_marker_in_file_is_replaced(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("def f():\n    return @@\n", encoding="utf-8")
    emulator.script(Reply(text="42"))
    r = run(tmp_path, emulator.base_url, "complete", "m.py", "--marker", "@@", "--apply")
    assert r.code == 0
    assert path.read_text() == "def f():\n    return 42\n"


def test_nothing_to_suggest_exits_1_and_leaves_the_file(emulator: Emulator, tmp_path: Path,
                                                         src: Path) -> None:
    emulator.script(Reply(text="   "))
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12", "--apply")
    assert (r.code, r.out) == (1, "")
    assert src.read_text() == SOURCE


# --- settings ------------------------------------------------------------------------------------


def test_config_file_env_and_flags_in_order(emulator: Emulator, tmp_path: Path,
                                             src: Path) -> None:
    cfg = tmp_path / "config" / "deepseek-fim-lsp" / "config.toml"
    cfg.parent.mkdir(parents=True)
    # baseUrl here is dead: the environment must win over the config file.
    cfg.write_text('[deepseekFim]\nmaxTokens = 50\nmodel = "deepseek-v4-pro"\n'
                   'temperature = 0.5\nbaseUrl = "http://127.0.0.1:9"\n', encoding="utf-8")
    assert run(tmp_path, emulator.base_url, "complete", "add.py:2:12").code == 0
    body = fims(emulator)[-1].body
    assert (body["max_tokens"], body["model"], body["temperature"]) == (
        50, "deepseek-v4-pro", 0.5)
    assert run(tmp_path, emulator.base_url, "complete", "add.py:2:12", "--max-tokens", "77",
               "--set", "temperature=0.25", "--set", "model=deepseek-flash").code == 0
    body = fims(emulator)[-1].body
    assert (body["max_tokens"], body["model"], body["temperature"]) == (
        77, "deepseek-flash", 0.25)
    other = tmp_path / "other.toml"
    other.write_text("maxTokens = 9\n", encoding="utf-8")  # top-level keys, via --config
    assert run(tmp_path, emulator.base_url, "complete", "add.py:2:12", "--config",
               str(other)).code == 0
    body = fims(emulator)[-1].body
    assert (body["max_tokens"], body["model"]) == (9, "deepseek-v4-flash")


def test_invalid_settings_name_the_key_and_exit_2(emulator: Emulator, tmp_path: Path,
                                                   src: Path) -> None:
    cfg = tmp_path / "config" / "deepseek-fim-lsp" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("maxTokens = 99999\n", encoding="utf-8")
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12")
    assert r.code == 2 and "maxTokens" in r.err and str(cfg) in r.err
    cfg.write_text("maxTokens = [\n", encoding="utf-8")
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12")
    assert r.code == 2 and "not valid TOML" in r.err
    cfg.unlink()
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12", "--set", "prefixTokns=5")
    assert r.code == 2 and "prefixTokns" in r.err and "unknown setting" in r.err
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12", "--temperature", "7")
    assert r.code == 2 and "temperature" in r.err
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12", "--config", "missing.toml")
    assert r.code == 2 and "missing.toml" in r.err
    assert fims(emulator) == []


# --- exit codes and bad input --------------------------------------------------------------------


def test_bad_input_exits_2_with_a_clear_message(emulator: Emulator, tmp_path: Path,
                                                src: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x7fELF\x02\x01\x00\x00binary")
    cases = {
        ("complete", "nope.py:1:1"): "nope.py: no such file",
        ("complete", "add.py:9:1"): "line 9 is past the end of add.py",
        ("complete", "add.py:2:13"): "column 13 is past the end of line 2",
        ("complete", "add.py:0:1"): "start at 1",
        ("complete", "blob.bin:1:1"): "binary",
        ("complete", "add.py"): "give the cursor",
        ("complete", "add.py", "--marker", "zzz"): "occurs 0 times",
        ("complete", "-", "--apply", "--marker", "x"): "--apply needs a FILE",
        ("complete", "add.py:2:12", "--bogus-flag"): "unrecognized arguments",
    }
    for args, message in cases.items():
        r = run(tmp_path, emulator.base_url, *args)
        assert r.code == 2, (args, r.err)
        assert message in r.err, (args, r.err)
        assert r.out == ""
    assert fims(emulator) == []


def test_excluded_file_is_not_sent(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOKEN=\n", encoding="utf-8")
    r = run(tmp_path, emulator.base_url, "complete", ".env:1:7")
    assert r.code == 2 and "excluded" in r.err
    assert fims(emulator) == []


def test_key_problems_exit_3(emulator: Emulator, tmp_path: Path, src: Path) -> None:
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12", key=None)
    assert r.code == 3 and "DEEPSEEK_API_KEY" in r.err
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12", key="sk-test-wrong-0000")
    assert r.code == 3 and "401" in r.err
    emulator.script(Reply(status=402))
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12")
    assert r.code == 3 and "402" in r.err and "balance" in r.err
    assert len(fims(emulator)) == 2  # 401 and 402 are not retried


def test_backend_problems_exit_4_after_retries(emulator: Emulator, tmp_path: Path,
                                               src: Path) -> None:
    emulator.script(*[Reply(status=500)] * 3)
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12")
    assert r.code == 4 and "500" in r.err
    assert len(fims(emulator)) == 3
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12", "--model", "deepseek-nope")
    assert r.code == 4 and "deepseek-nope" in r.err and "deepseek-v4-flash" in r.err
    r = run(tmp_path, "http://127.0.0.1:9", "complete", "add.py:2:12")
    assert r.code == 4 and "cannot reach" in r.err


def test_timeout_exits_4(emulator: Emulator, tmp_path: Path, src: Path) -> None:
    emulator.script(*[Reply(first_token_ms=8000)] * 3)
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12", "--timeout-ms", "1000")
    assert r.code == 4 and "no answer within 1000 ms" in r.err
    assert len(fims(emulator)) == 3


def test_retry_on_429_then_success(emulator: Emulator, tmp_path: Path, src: Path) -> None:
    emulator.script(Reply(status=429), Reply(text="a - b"))
    r = run(tmp_path, emulator.base_url, "complete", "add.py:2:12")
    assert (r.code, r.out) == (0, "a - b")
    assert [q.status for q in fims(emulator)] == [429, 200]


# --- batch ---------------------------------------------------------------------------------------


def write_jsonl(path: Path, items: list[Any]) -> None:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n"
                            for x in items), encoding="utf-8")


def test_batch_keeps_input_order_with_per_line_errors(emulator: Emulator, tmp_path: Path,
                                                      src: Path) -> None:
    # The first request is the slowest: its result must still come first.
    emulator.add_rule(Rule(Reply(text="SLOW", first_token_ms=400), prompt_endswith="slow "))
    emulator.add_rule(Rule(Reply(text="FAST"), prompt_endswith="fast "))
    write_jsonl(tmp_path / "reqs.jsonl", [
        {"id": "s", "prefix": "x = slow ", "suffix": "\n"},
        {"id": "f", "prefix": "x = fast ", "language": "python",
         "settings": {"maxTokens": 7}},
        {"id": "file", "file": "add.py", "line": 2, "column": 12},
        "",
        "{not json",
        {"id": "missing", "file": "gone.py", "line": 1, "column": 1},
        {"id": "range", "file": "add.py", "line": 2, "column": 99},
        {"id": "bad-setting", "prefix": "y", "settings": {"maxTokens": 0}},
    ])
    r = run(tmp_path, emulator.base_url, "complete", "--batch", "reqs.jsonl")
    lines = r.lines()
    assert [x["id"] for x in lines] == ["s", "f", "file", 5, "missing", "range", "bad-setting"]
    assert [x.get("text") for x in lines[:3]] == ["SLOW", "FAST", "pass"]
    assert lines[2]["range"]["start"] == {"line": 1, "character": 11}
    assert [x["error"]["kind"] for x in lines[3:]] == ["input", "input", "input", "settings"]
    assert "gone.py" in lines[4]["error"]["message"]
    assert "maxTokens" in lines[6]["error"]["message"]
    assert r.code == 2  # some lines were bad input
    assert "3 done" in r.err and "4 failed" in r.err and "$" in r.err
    bodies = {q.body["prompt"]: q.body for q in fims(emulator)}
    assert bodies["x = fast "]["max_tokens"] == 7 and bodies["x = slow "]["max_tokens"] == 128
    assert len(bodies) == 3


def test_batch_from_stdin_runs_concurrently(tmp_path: Path) -> None:
    with Emulator(api_keys=(TEST_KEY,), first_token_ms=250) as emu:
        reqs = "".join(json.dumps({"prefix": f"v{i} = "}) + "\n" for i in range(6))
        r = run(tmp_path, emu.base_url, "complete", "--batch", "-", "--concurrency", "3",
                stdin=reqs)
        assert r.code == 0
        assert [x["id"] for x in r.lines()] == [1, 2, 3, 4, 5, 6]
        peak = max(q.concurrent for q in fims(emu))
        assert 1 < peak <= 3


def test_batch_retries_and_reports_backend_failures(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_rule(Rule(Reply(status=503), prompt_endswith="down "))
    emulator.script(Reply(status=429, endpoint="fim"))
    write_jsonl(tmp_path / "r.jsonl", [{"id": 1, "prefix": "up "}, {"id": 2, "prefix": "down "}])
    r = run(tmp_path, emulator.base_url, "complete", "--batch", "r.jsonl", "--concurrency", "1")
    one, two = r.lines()
    assert one["text"] == "pass"
    assert two["error"]["kind"] == "busy" and "503" in two["error"]["message"]
    assert r.code == 4
    assert [q.status for q in fims(emulator)] == [429, 200, 503, 503, 503]


def test_batch_stops_sending_after_a_key_rejection(emulator: Emulator, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "r.jsonl", [{"prefix": f"a{i} "} for i in range(5)])
    r = run(tmp_path, emulator.base_url, "complete", "--batch", "r.jsonl", "--concurrency", "1",
            key="sk-test-wrong-0000")
    assert r.code == 3
    assert [x["error"]["kind"] for x in r.lines()] == ["auth"] * 5
    assert len(fims(emulator)) == 1


def test_sigint_stops_a_batch_cleanly(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_rule(Rule(Reply(text="SLOW", first_token_ms=20_000), prompt_endswith="slow "))
    items = [{"id": i, "prefix": f"x{i} = {'slow' if i in (1, 3, 4) else 'fast'} "}
             for i in range(8)]
    write_jsonl(tmp_path / "r.jsonl", items)
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepseek_fim_lsp", "complete", "--batch", "r.jsonl",
         "--concurrency", "3"], cwd=tmp_path, env=env_for(tmp_path, emulator.base_url),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # 0 and 2 finish; 1, 3 and 4 hang, holding all three workers.
        assert emulator.wait_for(
            lambda log: sum(q.outcome == "in_flight" for q in log) == 3
            and sum(q.outcome == "completed" for q in log) == 2, timeout=15)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert out.endswith(b"\n")
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert [x["id"] for x in lines] == [0, 1, 2]
    assert lines[0]["text"] == "pass" and lines[2]["text"] == "pass"
    assert lines[1]["error"]["kind"] == "interrupted"
    assert b"interrupted" in err
    assert emulator.wait_for(lambda log: all(q.outcome != "in_flight" for q in log), timeout=5)
    assert {q.outcome for q in fims(emulator) if "slow" in q.body["prompt"]} == {
        "client_disconnected"}


# --- check ---------------------------------------------------------------------------------------


def test_check_good_key(emulator: Emulator, tmp_path: Path) -> None:
    r = run(tmp_path, emulator.base_url, "check")
    assert r.code == 0
    assert "✗" not in r.out and r.out.count("✓") == 4
    assert f"****{TEST_KEY[-4:]}" in r.out
    assert "10.00 USD" in r.out and "deepseek-v4-flash is offered" in r.out
    assert " ms" in r.out
    assert [q.path for q in emulator.requests()] == ["/user/balance", "/models",
                                                     "/beta/completions"]


def test_check_bad_key_missing_key_and_bad_model(emulator: Emulator, tmp_path: Path) -> None:
    r = run(tmp_path, emulator.base_url, "check", key="sk-test-wrong-0000")
    assert r.code == 3 and "✗ key rejected" in r.out and "401" in r.out
    r = run(tmp_path, emulator.base_url, "check", key=None)
    assert r.code == 3 and "✗" in r.out and "DEEPSEEK_API_KEY" in r.out
    r = run(tmp_path, emulator.base_url, "check", "--model", "deepseek-nope")
    assert r.code == 4 and "✗ model deepseek-nope is not offered" in r.out
    assert "deepseek-v4-flash" in r.out
    r = run(tmp_path, "http://127.0.0.1:9", "check")
    assert r.code == 4 and "cannot reach" in r.out


def test_check_empty_balance_exits_3(tmp_path: Path) -> None:
    with Emulator(api_keys=(TEST_KEY,), balance=("USD", "0.00")) as emu:
        r = run(tmp_path, emu.base_url, "check")
    assert r.code == 3 and "balance" in r.out and "✗" in r.out


def test_help_documents_exit_codes(tmp_path: Path) -> None:
    r = run(tmp_path, "http://127.0.0.1:9", "complete", "--help")
    assert r.code == 0
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"  {code:>3}  " in r.out


def test_windows_style_target_with_colons(emulator: Emulator, tmp_path: Path) -> None:
    # FILE:LINE:COL splits from the right, so names with colons work.
    (tmp_path / "a:b.py").write_text("x = \n", encoding="utf-8")
    r = run(tmp_path, emulator.base_url, "complete", "a:b.py:1:5")
    assert r.code == 0 and fims(emulator)[0].body["prompt"] == "x = "


def test_progress_bar_only_on_a_terminal(emulator: Emulator, tmp_path: Path) -> None:
    import fcntl
    import pty
    import select
    import struct
    import termios

    write_jsonl(tmp_path / "r.jsonl", [{"prefix": f"p{i} = "} for i in range(3)])
    piped = run(tmp_path, emulator.base_url, "complete", "--batch", "r.jsonl")
    assert piped.code == 0 and "req/s" not in piped.err and "3 done" in piped.err
    master, slave = pty.openpty()  # a terminal 120 columns wide
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepseek_fim_lsp", "complete", "--batch", "r.jsonl"],
        cwd=tmp_path, env=env_for(tmp_path, emulator.base_url), stdin=subprocess.DEVNULL,
        stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    try:
        while select.select([master], [], [], 20)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(timeout=20) == 0
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.decode("utf-8", "replace")
    assert "req/s" in text and "3 done" in text
    assert text.count('"text": "pass"') == 3


def test_batch_stops_when_the_reader_goes_away(tmp_path: Path) -> None:
    with Emulator(api_keys=(TEST_KEY,), first_token_ms=50) as emu:
        write_jsonl(tmp_path / "r.jsonl", [{"prefix": f"q{i} = "} for i in range(200)])
        proc = subprocess.Popen(
            [sys.executable, "-m", "deepseek_fim_lsp", "complete", "--batch", "r.jsonl",
             "--concurrency", "2"], cwd=tmp_path, env=env_for(tmp_path, emu.base_url),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None and proc.stderr is not None
            first = json.loads(proc.stdout.readline())  # like `| head -1`
            proc.stdout.close()
            assert proc.wait(timeout=20) == 141
            err = proc.stderr.read().decode()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        assert first["id"] == 1 and first["text"] == "pass"
        assert "stdout was closed" in err and "Traceback" not in err
        assert len(emu.requests("/beta/completions")) < 200
