"""Base URLs as DeepSeek's docs write them (``/beta``, ``/v1``, a trailing slash) mean the API
root (issue 13)."""

from __future__ import annotations

import logging

import pytest

from deepseek_fim_lsp import config

ROOT = "https://api.deepseek.com"


@pytest.mark.parametrize("written", [
    ROOT, ROOT + "/", ROOT + "/beta", ROOT + "/beta/", ROOT + "/v1", ROOT + "/v1/",
    ROOT + "/BETA", "  " + ROOT + "/v1//  ",
])
def test_the_forms_in_the_docs_mean_the_api_root(written: str) -> None:
    settings, problems = config.parse({"baseUrl": written})
    assert problems == [] and settings.base_url == ROOT
    assert settings.fim_url == ROOT + "/beta/completions"


def test_a_proxy_path_is_kept_and_only_its_api_ending_goes() -> None:
    assert config.parse({"baseUrl": "http://127.0.0.1:8080/deepseek/v1"})[0].base_url == \
        "http://127.0.0.1:8080/deepseek"
    assert config.parse({"baseUrl": "https://proxy.example/beta-v1"})[0].base_url == \
        "https://proxy.example/beta-v1"


def test_environment_is_normalised_too() -> None:
    settings, problems = config.from_env({"DEEPSEEK_BASE_URL": ROOT + "/beta"})
    assert problems == [] and settings.base_url == ROOT


def test_not_a_url_is_still_refused() -> None:
    for bad in ("api.deepseek.com", "https://", "ftp://x", 3):
        settings, problems = config.parse({"baseUrl": bad})
        assert settings.base_url == ROOT and len(problems) == 1
        assert "baseUrl" in problems[0]


def test_the_log_says_once_what_was_used(caplog: pytest.LogCaptureFixture) -> None:
    written = "https://once.example/beta"
    with caplog.at_level(logging.INFO, logger="deepseek_fim_lsp"):
        for _ in range(3):
            config.parse({"baseUrl": written})
        config.parse({"baseUrl": "https://once.example"})  # nothing to say
    said = [r.getMessage() for r in caplog.records if "once.example" in r.getMessage()]
    assert said == ["baseUrl https://once.example/beta: using the API root "
                    "https://once.example (the /beta and /v1 paths are added per endpoint)"]
