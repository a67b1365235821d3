"""One exception tree for everything that can go wrong talking to DeepSeek.

Each error carries a ``kind`` (used to show the user one message per kind of problem, not one per
keystroke) and a plain-words ``user_message`` that says what to do. Messages never contain the API
key: they are built from status codes and the server's text, which is passed through ``redact``.

    DeepSeekError
    ├── MissingKeyError        no key configured: nothing is sent
    ├── AuthError              401: key rejected
    ├── BalanceError           402: balance exhausted
    ├── RequestRejected        400/422: a parameter was refused
    │   ├── UnknownModelError  the model id is not offered
    │   └── WrongUrlError      404: nothing at that URL (``baseUrl`` is wrong)
    ├── BusyError              429/500/503 and insufficient_system_resource: back off
    ├── UnreachableError       timeout, refused connection, DNS, TLS
    └── StreamError            a broken or garbled response stream
"""

from __future__ import annotations

from collections.abc import Sequence

from .log import redact


class DeepSeekError(Exception):
    """Base class: a problem the user may need to hear about."""

    kind = "error"
    retryable = False
    #: True when the user must act (key, balance, config) rather than wait.
    needs_user = False

    def __init__(self, user_message: str, *, status: int | None = None, detail: str = "") -> None:
        self.user_message = redact(user_message)
        self.status = status
        self.detail = redact(detail)
        super().__init__(self.user_message)


class MissingKeyError(DeepSeekError):
    kind = "missing_key"
    needs_user = True

    def __init__(self) -> None:
        super().__init__(
            "DeepSeek FIM: no API key is set, so no completions are requested. Set the "
            "DEEPSEEK_API_KEY environment variable or the `deepseekFim.apiKey` setting "
            "(create a key at https://platform.deepseek.com/api_keys)."
        )


class AuthError(DeepSeekError):
    kind = "auth"
    needs_user = True

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "DeepSeek FIM: the API key was rejected (HTTP 401). Check DEEPSEEK_API_KEY or the "
            "`deepseekFim.apiKey` setting.",
            status=401,
            detail=detail,
        )


class BalanceError(DeepSeekError):
    kind = "balance"
    needs_user = True

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "DeepSeek FIM: your DeepSeek balance is exhausted (HTTP 402). Top up at "
            "https://platform.deepseek.com/top_up; completions resume by themselves afterwards.",
            status=402,
            detail=detail,
        )


class RequestRejected(DeepSeekError):
    kind = "rejected"
    needs_user = True

    def __init__(self, status: int, detail: str = "") -> None:
        what = f": {redact(detail)[:300]}" if detail else ""
        super().__init__(
            f"DeepSeek FIM: the request was rejected (HTTP {status}){what}. Check the "
            "`deepseekFim` settings (model, maxTokens, temperature).",
            status=status,
            detail=detail,
        )


class UnknownModelError(RequestRejected):
    """The API answered a request with its unknown-model error (400 "Model Not Exist").

    Only a failed request says this: ``GET /models`` is advisory (DeepSeek keeps serving older
    ids as aliases after they leave the list).
    """

    kind = "model"

    def __init__(self, model: str, offered: Sequence[str] = (), status: int = 400, *,
                 setting: str = "model") -> None:
        DeepSeekError.__init__(
            self,
            f"DeepSeek FIM: the API does not offer the model '{model}'."
            + (f" It offers: {', '.join(offered)}." if offered else "")
            + f" Set `deepseekFim.{setting}` to one of them.",
            status=status,
        )
        self.model = model
        self.offered = tuple(offered)


class WrongUrlError(RequestRejected):
    """HTTP 404: the URL is wrong (``baseUrl``), not the model or the other settings."""

    kind = "url"

    def __init__(self, url: str, detail: str = "") -> None:
        DeepSeekError.__init__(
            self,
            f"DeepSeek FIM: the API has nothing at {url} (HTTP 404), so the base URL is wrong. "
            "Set `deepseekFim.baseUrl` (or DEEPSEEK_BASE_URL) to the API root, for example "
            "https://api.deepseek.com.",
            status=404,
            detail=detail,
        )
        self.url = url


class BusyError(DeepSeekError):
    kind = "busy"
    retryable = True

    def __init__(self, status: int | None, detail: str = "") -> None:
        reason = {
            429: "is rate-limiting us (HTTP 429)",
            500: "had a server error (HTTP 500)",
            503: "is overloaded (HTTP 503)",
        }.get(status or 0, "is busy" + (f" (HTTP {status})" if status else ""))
        super().__init__(
            f"DeepSeek FIM: the DeepSeek API {reason}; backing off and retrying shortly.",
            status=status,
            detail=detail,
        )


class UnreachableError(DeepSeekError):
    kind = "unreachable"
    retryable = True

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(
            f"DeepSeek FIM: cannot reach {base_url} ({reason}). Check your network or the "
            "`deepseekFim.baseUrl` setting.",
            detail=reason,
        )


class StreamError(DeepSeekError):
    kind = "stream"
    retryable = True

    def __init__(self, reason: str) -> None:
        super().__init__(f"DeepSeek FIM: the response stream broke off ({reason}).", detail=reason)
