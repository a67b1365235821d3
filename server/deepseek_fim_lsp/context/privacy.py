"""What must never leave the machine: excluded files and secret-looking strings.

Pure functions, no I/O. `is_excluded` decides whether a document may be sent at all (as the file
being edited or as cross-file context); `redact_secrets` scrubs text taken from *other* documents
before it goes into a prompt. Both err on the side of privacy, but redaction is tuned so that
ordinary code passes through byte-identical (a mangled snippet costs completion quality).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import unquote, urlsplit

__all__ = [
    "DEFAULT_EXCLUDE",
    "REDACTED",
    "effective_patterns",
    "is_excluded",
    "redact_secrets",
    "uri_to_path",
]

REDACTED = "<redacted>"

#: Files that are never sent to the API, whatever the user configures (unless removed with "!").
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.jks",
    "*.kdbx",
    "*.gpg",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "credentials",
    "credentials.json",
    "secrets.*",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".git-credentials",
    ".htpasswd",
    "*.tfstate",
    "*.tfstate.backup",
    "*.tfvars",
    ".aws/credentials",
    ".docker/config.json",
    ".kube/config",
    ".ssh/**",
    ".gnupg/**",
)


def effective_patterns(user: Sequence[str]) -> tuple[str, ...]:
    """Defaults plus the user's patterns, in order; ``!pat`` removes every earlier ``pat``.

    Removal is by exact text, so ``!*.key`` disables the built-in ``*.key`` default.
    """
    result: list[str] = list(DEFAULT_EXCLUDE)
    for raw in user:
        pat = raw.strip()
        if not pat:
            continue
        if pat.startswith("!"):
            target = pat[1:].strip()
            result = [p for p in result if p != target]
        elif pat not in result:
            result.append(pat)
    return tuple(result)


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def uri_to_path(uri_or_path: str) -> str:
    """A ``/``-separated, percent-decoded path for a ``file://`` URI, other URI or plain path."""
    s = uri_or_path
    m = _SCHEME.match(s)
    if m:  # a URI (a one-letter "scheme" is a Windows drive, not a URI)
        parts = urlsplit(s)
        s = unquote(parts.path) if parts.path else unquote(s[m.end() :])
    return s.replace("\\", "/")


def _glob_to_regex(glob: str) -> str:
    """Translate one glob (``*``, ``?``, ``[...]``, ``**``) into a regex fragment; ``/`` literal."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob.startswith("**", i):
                i += 2
                if i < n and glob[i] == "/":
                    out.append("(?:[^/]*/)*")  # "**/" spans zero or more directories
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            first = i + 2 if glob.startswith("[!", i) else i + 1
            j = glob.find("]", first + 1)  # a "]" right after "[" or "[!" is literal
            if j < 0:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\").replace("/", "") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str] | None:
    """A regex that finds the pattern at a path-component boundary (gitignore-like)."""
    pat = pattern.strip()
    if not pat or pat.startswith("#"):
        return None
    # A leading "/" cannot anchor (there is no root here); a trailing "/" (directory) is implied
    # by the component match below.
    pat = pat.strip("/")
    if not pat:
        return None
    # Without "/" a pattern matches any component (so a basename, or a directory and all under it);
    # with "/" it matches a run of trailing components, or a directory prefix of the path.
    try:
        return re.compile(r"(?:^|/)" + _glob_to_regex(pat) + r"(?:/|$)")
    except re.error:
        return re.compile(r"(?:^|/)" + re.escape(pat) + r"(?:/|$)")


def is_excluded(uri_or_path: str, patterns: Sequence[str]) -> bool:
    """True if any pattern matches the document (case-sensitive, like git on Linux)."""
    # Asked for every open document a request looks at (about 25 times per request, 0.1 ms
    # each with the defaults): remembered per URI and pattern list.
    return _excluded(uri_or_path, tuple(patterns))


@lru_cache(maxsize=4096)
def _excluded(uri_or_path: str, patterns: tuple[str, ...]) -> bool:
    path = uri_to_path(uri_or_path)
    for pattern in patterns:
        rx = _compile(pattern)
        if rx is not None and rx.search(path):
            return True
    return False


# --- secret redaction -------------------------------------------------------------------------

# Whole PEM private key blocks (also with JSON-escaped "\n"); an unterminated block runs to the end.
_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----(?:\r?\n|(?:\\r)?\\n)"
    r"(?=(?:Proc-Type|[A-Za-z0-9+/=]{16}))"
    r"[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|\Z)"
)

# Values that are obviously placeholders, not secrets: ${VAR}, {{x}}, {name}, %s, $VAR, <...>.
_PLACEHOLDER = r"(?![$%<{])"

# user:password@ in URLs; the password goes, scheme/user/host stay.
_URL_CREDS = re.compile(
    r"(\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/:@\"'<>]+:)" + _PLACEHOLDER + r"([^\s/@\"'<>]+)(@)"
)

# Token formats recognisable on their own.
_TOKENS = re.compile(
    r"\bsk-(?:proj-|ant-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"  # DeepSeek etc.
    r"|\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|AIPA)[A-Z0-9]{16}\b"  # AWS access key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b"  # GitHub tokens
    r"|\bgithub_pat_[A-Za-z0-9_]{22,}"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|\b(?:npm|hf)_[A-Za-z0-9]{30,}\b"  # npm, Hugging Face
    r"|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"  # JWT
)

_BEARER = re.compile(
    r"\b(Bearer\s+)(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{16,}=*", re.IGNORECASE
)

# aws_secret_access_key = wJalr... (quoted or not, any assignment style): 40 base64 chars.
_AWS_SECRET = re.compile(
    r"((?i:aws_?secret_?access_?key|secret_?access_?key)[\"']?\s*(?::=|=>|[:=])\s*[\"']?)"
    r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
)

# The end of a name that holds a secret: DB_PASSWORD, apiKey, github-token, client_secret, ...
# (matching from the word, not the name start, keeps the scan linear and fast).
_SECRET_WORD = (
    r"(?i:password|passwd|pwd|passphrase|secret|token|api[_-]?key|"
    r"access[_-]?key|private[_-]?key|auth[_-]?key|credentials?)"
)

# name = "value" / "name": "value" / name := "value" / 'name' => 'value'.
_QUOTED_ASSIGN = re.compile(
    r"("
    + _SECRET_WORD
    + r"[\"']?[ \t]*(?::=|=>|[:=])[ \t]*([\"'`]))"
    + _PLACEHOLDER
    # a real secret has a digit/symbol or is long; "NUMBER" in a lexer is not one
    + r"(?=[^\s\"'`]*[^A-Za-z_\s\"'`-]|[^\s\"'`]{16})"
    + r"([^\s\"'`]{6,})(\2)"
)

# Env-file style without spaces: export API_TOKEN=abc123...
_ENV_ASSIGN = re.compile(
    r"^(\s*(?:export\s+)?[A-Z0-9_]{0,60}(?:PASSWORD|PASSWD|PWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|"
    r"ACCESS_?KEY|PRIVATE_?KEY|AUTH_?KEY|CREDENTIALS?)=)([^\s\"'#$`(){}\[\]<>]{6,})[ \t]*$",
    re.MULTILINE,
)


def redact_secrets(text: str) -> str:
    """Replace secret-looking strings with ``<redacted>``; keeps names so the code still reads.

    Covers PEM private keys, provider tokens (sk-…, AKIA…, ghp_…, xox…, JWTs, …), Bearer
    tokens, passwords in URLs, and literal values assigned to password/secret/token/api_key
    names. Placeholders (``${VAR}``, ``{{x}}``, ``%s``) and expressions are left alone.
    """
    if not text:
        return text
    text = _PEM.sub(REDACTED, text)
    text = _URL_CREDS.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    text = _TOKENS.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _AWS_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _QUOTED_ASSIGN.sub(lambda m: m.group(1) + REDACTED + m.group(4), text)
    text = _ENV_ASSIGN.sub(lambda m: m.group(1) + REDACTED, text)
    return text
