"""Exclusion patterns and secret redaction: what must never reach the API."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_fim_lsp.context.privacy import (
    DEFAULT_EXCLUDE,
    REDACTED,
    effective_patterns,
    is_excluded,
    redact_secrets,
    uri_to_path,
)

# --- exclusion ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/home/u/proj/.env",
        "/home/u/proj/.env.local",
        "/home/u/proj/config/prod.env",
        "/home/u/.ssh/id_rsa",
        "/home/u/.ssh/config",
        "/home/u/.ssh/keys/deploy",  # nested under .ssh
        "/home/u/backup/id_ed25519.pub",
        "/srv/tls/server.pem",
        "/srv/tls/server.key",
        "/srv/cert.p12",
        "/home/u/.aws/credentials",
        "/home/u/proj/credentials.json",
        "/home/u/proj/credentials",
        "/home/u/proj/config/secrets.yaml",
        "/home/u/.netrc",
        "/home/u/.npmrc",
        "/home/u/.pypirc",
        "/home/u/passwords.kdbx",
        "/home/u/infra/terraform.tfstate",
        "relative/dir/.env",
        ".env",
        "C:\\Users\\u\\.ssh\\id_rsa",
    ],
)
def test_defaults_exclude_secret_files(path: str) -> None:
    assert is_excluded(path, DEFAULT_EXCLUDE)


@pytest.mark.parametrize(
    "path",
    [
        "/home/u/proj/main.py",
        "/home/u/proj/environment.py",
        "/home/u/proj/envelope.ts",
        "/home/u/proj/keyboard.c",
        "/home/u/proj/monkey.py",
        "/home/u/proj/credentials_test.py",
        "/home/u/proj/secret_santa.py",
        "/home/u/proj/ssh/client.go",
        "/home/u/proj/src/pem_parser.rs",
    ],
)
def test_defaults_leave_ordinary_files_alone(path: str) -> None:
    assert not is_excluded(path, DEFAULT_EXCLUDE)


def test_file_uris_are_percent_decoded() -> None:
    assert is_excluded("file:///home/u/my%20project/.env", DEFAULT_EXCLUDE)
    assert is_excluded("file:///home/u/proj/%2Eenv", DEFAULT_EXCLUDE)
    assert is_excluded("file:///c%3A/Users/u/.ssh/id_rsa", DEFAULT_EXCLUDE)
    assert not is_excluded("file:///home/u/my%20project/main.py", DEFAULT_EXCLUDE)
    assert uri_to_path("file:///home/u/a%20b/c%23d.py") == "/home/u/a b/c#d.py"
    assert uri_to_path("untitled:Untitled-1") == "Untitled-1"


def test_matching_is_case_sensitive() -> None:
    assert not is_excluded("/p/.ENV", DEFAULT_EXCLUDE)
    assert is_excluded("/p/.ENV", effective_patterns([".ENV"]))


def test_user_patterns_are_added() -> None:
    patterns = effective_patterns(["*.secret.ts", "build/**", "config/prod/*.yaml", "private"])
    assert patterns[: len(DEFAULT_EXCLUDE)] == DEFAULT_EXCLUDE
    assert is_excluded("/p/src/api.secret.ts", patterns)
    assert is_excluded("/p/build/out/main.js", patterns)
    assert is_excluded("/p/config/prod/db.yaml", patterns)
    assert not is_excluded("/p/config/dev/db.yaml", patterns)
    assert not is_excluded("/p/config/prod/sub/db.yaml", patterns)  # "*" stays in one directory
    assert is_excluded("/p/private/notes.md", patterns)  # a bare name also matches directories
    assert not is_excluded("/p/src/api.ts", patterns)


def test_double_star_spans_directories() -> None:
    patterns = ["docs/**/draft-*.md"]
    assert is_excluded("/p/docs/draft-1.md", patterns)
    assert is_excluded("/p/docs/a/b/c/draft-2.md", patterns)
    assert not is_excluded("/p/docs/a/final.md", patterns)
    assert not is_excluded("/p/mydocs/draft-1.md", patterns)  # components, not substrings


def test_directory_and_character_class_patterns() -> None:
    assert is_excluded("/p/vault/a/b.txt", ["vault/"])
    assert not is_excluded("/p/vaults/a.txt", ["vault/"])
    assert is_excluded("/p/key1.txt", ["key[0-9].txt"])
    assert not is_excluded("/p/keyA.txt", ["key[0-9].txt"])
    assert is_excluded("/p/keyA.txt", ["key[!0-9].txt"])
    assert is_excluded("/p/a?b", ["a[?]b"])


def test_bang_removes_patterns() -> None:
    patterns = effective_patterns(["!*.key"])
    assert "*.key" not in patterns
    assert not is_excluded("/p/slides.key", patterns)
    assert is_excluded("/p/server.pem", patterns)  # other defaults stay
    patterns = effective_patterns(["!.env"])
    assert is_excluded("/p/.env", patterns)  # still matched by the "*.env" default
    patterns = effective_patterns(["!.env", "!*.env"])
    assert not is_excluded("/p/.env", patterns)
    assert is_excluded("/p/.env.local", patterns)
    # removal also applies to user patterns added earlier, not to later ones
    assert "*.log" not in effective_patterns(["*.log", "!*.log"])
    assert "*.log" in effective_patterns(["!*.log", "*.log"])
    # whitespace and empty entries are ignored; duplicates are kept once
    assert effective_patterns(["", "  ", "*.pem"]) == DEFAULT_EXCLUDE


# --- redaction ----------------------------------------------------------------------------------

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("source", "secret", "kept"),
    [
        ('key = "sk-test-abc123def456ghi789jkl"', "sk-test-abc123def456ghi789jkl", "key = "),
        ("OPENAI=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", "OPENAI="),
        (
            "k = 'sk-ant-api03-abcdefGHIJ1234567890xyz'",
            "sk-ant-api03-abcdefGHIJ1234567890xyz",
            "k = ",
        ),
        ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "aws_access_key_id"),
        ("id: ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A", "id: "),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = ",
        ),
        (
            'AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_SECRET_ACCESS_KEY",
        ),
        (
            "token = ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "token = ",
        ),
        (
            "pat: github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "pat: ",
        ),
        (
            "SLACK = 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp'",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp",
            "SLACK = ",
        ),
        (
            "Authorization: Bearer abc123DEF456ghi789JKL0.mno",
            "abc123DEF456ghi789JKL0.mno",
            "Authorization: Bearer ",
        ),
        ("jwt = " + JWT, JWT, "jwt = "),
        ('password = "hunter22"', "hunter22", 'password = "'),
        ("DB_PASSWORD='c0rrect-h0rse'", "c0rrect-h0rse", "DB_PASSWORD='"),
        ('"apiKey": "a1b2c3d4e5f6"', "a1b2c3d4e5f6", '"apiKey": "'),
        ("client_secret: 'Zm9vYmFyYmF6cXV4'", "Zm9vYmFyYmF6cXV4", "client_secret: '"),
        ('secret := "s3cr3t-value"', "s3cr3t-value", "secret := "),
        ("'db_pass' => 'p4ssw0rd!'", "p4ssw0rd!", None),
        ("'passwd' => 'p4ssw0rd!'", "p4ssw0rd!", "'passwd' => '"),
        ("export API_TOKEN=abc123def456", "abc123def456", "export API_TOKEN="),
        ("GITLAB_PRIVATE_KEY=xyzzy42plugh", "xyzzy42plugh", "GITLAB_PRIVATE_KEY="),
        (
            'url = "postgres://admin:Sup3rS3cret@db.example.com:5432/app"',
            "Sup3rS3cret",
            "postgres://admin:",
        ),
        ("https://user:pa55word@example.com/path", "pa55word", "@example.com/path"),
    ],
)
def test_redacts_secret(source: str, secret: str, kept: str | None) -> None:
    out = redact_secrets(source)
    if kept is None:  # not a secret name we know: must stay as is
        assert out == source
        return
    assert secret not in out
    assert REDACTED in out
    assert kept in out


def test_redacts_whole_pem_blocks() -> None:
    key = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
        "QyNTUxOQAAACDm4Vd5TQ4PjU3vN0Z2kBq7Xh1t1Nx9N4kCq2w3wN1q2AAAAJh0l6pqdJeq\n"
        "-----END OPENSSH PRIVATE KEY-----"
    )
    text = f"before\nKEY = '''\n{key}\n'''\nafter\n"
    assert redact_secrets(text) == f"before\nKEY = '''\n{REDACTED}\n'''\nafter\n"
    rsa = key.replace("OPENSSH", "RSA")
    assert redact_secrets(rsa) == REDACTED
    # JSON with escaped newlines (service-account files)
    escaped = key.replace("\n", "\\n")
    sa = '{"private_key": "' + escaped + '\\n", "client_email": "x@y.iam"}'
    out = redact_secrets(sa)
    assert "b3BlbnNzaC1" not in out and '"client_email": "x@y.iam"' in out
    # a block cut off before its END line is still removed up to the end
    cut = "x = 1\n" + key.split("-----END")[0]
    assert redact_secrets(cut) == "x = 1\n" + REDACTED
    # public keys and certificates are not secrets
    cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUY2xpZW50\n-----END CERTIFICATE-----\n"
    assert redact_secrets(cert) == cert


ORDINARY = [
    # Python
    """\
import os
from getpass import getpass

TOKEN_TYPE = "bearer"
MAX_TOKENS = 4096
PASSWORD_MIN_LENGTH = 12
BEGIN_MARKER = "-----BEGIN RSA PRIVATE KEY-----"


def login(user, password=None, token=None):
    password = password or getpass()
    api_key = os.environ["DEEPSEEK_API_KEY"]
    secret = settings.SECRET_KEY
    token = tokens[0]
    if password == confirm_password:
        headers = {"Authorization": f"Bearer {token}"}
    dsn = f"postgres://{user}:{password}@{host}/db"
    other = "postgres://%s:%s@%s/db" % (user, password, host)
    env = "mysql://${DB_USER}:${DB_PASS}@localhost/app"
    kind = token == "NUMBER" or token == "IDENTIFIER"
    return requests.post(url, headers=headers, timeout=10)
""",
    # JavaScript / TypeScript
    """\
const token = await getToken();
const apiKey: string = process.env.API_KEY ?? "";
export const secretName = "db-credentials";
const auth = `Bearer ${token}`;
const el = document.querySelector(".task-skip-navigation");
let password: string | undefined = undefined;
fetch(`https://${user}:${pass}@example.com`);
""",
    # Go / Rust / shell / YAML / SQL
    """\
func (c *Client) Token() (string, error) { return c.token, nil }
let secret_key = std::env::var("SECRET_KEY")?;
export TOKEN=$(cat ~/.token)
export PASSWORD="$DB_PASSWORD"
password: ${{ secrets.DB_PASSWORD }}
token: "{{ vault_token }}"
SELECT id, password_hash FROM users WHERE email = 'a@b.c';
csrf_token = ""
password = "<redacted>"
""",
    # Non-ASCII and odd characters
    "def grüße(name):  # 中文注释 😀\n    return f'Hallo {name}'\r\n\ttabbed = 'x'\n",
]


@pytest.mark.parametrize("code", ORDINARY)
def test_ordinary_code_is_unchanged(code: str) -> None:
    assert redact_secrets(code) == code


def test_redaction_is_idempotent_on_examples() -> None:
    text = 'a = "sk-test-abc123def456ghi789jkl"\npassword = "hunter22"\n' + ORDINARY[0]
    once = redact_secrets(text)
    assert redact_secrets(once) == once
    assert once.endswith(ORDINARY[0])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("abcXYZ019_-=:'\" \n\r\t/.@{}$") + ["中", "😀", "sk-", "ghp_"]),
        max_size=200,
    ).map("".join)
)
def test_redaction_is_total_and_idempotent(text: str) -> None:
    once = redact_secrets(text)
    assert redact_secrets(once) == once


def test_redaction_stays_fast_on_pathological_input() -> None:
    # long runs of name-like characters must not make the regexes backtrack quadratically;
    # a bounded pytest-timeout would catch a hang, the output is checked for correctness
    blob = "a.b-c_" * 50_000 + "password = 'x'\n"
    assert redact_secrets(blob) == blob
