"""Settings: layering, validation with plain-words problems, and the key kept out of them."""

from __future__ import annotations

from deepseek_fim_lsp import config


def test_defaults() -> None:
    s = config.Settings()
    assert s.model == "deepseek-v4-flash" and s.debounce_ms == 150 and s.max_tokens == 128
    assert s.temperature == 0.0 and s.base_url == "https://api.deepseek.com"
    assert s.fim_url == "https://api.deepseek.com/beta/completions"


def test_layering_env_then_init_then_change() -> None:
    env, problems = config.from_env({"DEEPSEEK_API_KEY": "sk-abc123456",
                                     "DEEPSEEK_BASE_URL": "http://127.0.0.1:9/"})
    assert problems == [] and env.api_key == "sk-abc123456"
    assert env.base_url == "http://127.0.0.1:9"
    init, _ = config.parse({"deepseekFim": {"model": "deepseek-v4-pro", "maxTokens": 64}}, env)
    assert (init.model, init.max_tokens, init.api_key) == ("deepseek-v4-pro", 64, "sk-abc123456")
    later, _ = config.parse({"debounceMs": 0, "model": None}, init)
    assert later.debounce_ms == 0 and later.model == "deepseek-v4-pro"


def test_invalid_values_fall_back_and_name_the_key() -> None:
    s, problems = config.parse({"maxTokens": 5000, "temperature": "hot", "multiline": "often",
                                "debounceMs": True, "bogus": 1})
    assert (s.max_tokens, s.temperature, s.multiline, s.debounce_ms) == (128, 0.0, "auto", 150)
    joined = "\n".join(problems)
    for key in ("deepseekFim.maxTokens", "deepseekFim.temperature", "deepseekFim.multiline",
                "deepseekFim.debounceMs", "deepseekFim.bogus"):
        assert key in joined
    assert "between 1 and 4096" in joined


def test_bad_key_problem_does_not_echo_it() -> None:
    _, problems = config.parse({"apiKey": "sk-has space-secret"})
    assert problems and all("secret" not in p for p in problems)


def test_prices_and_round_trip() -> None:
    s, problems = config.parse({"prices": {"cacheHit": 0.01, "output": 1}})
    assert problems == [] and s.prices.cache_hit == 0.01 and s.prices.output == 1.0
    raw = config.to_raw(s)
    assert "apiKey" not in raw and raw["prices"]["cacheHit"] == 0.01
    again, problems = config.parse(raw)
    assert problems == [] and again == s


def test_daily_usage_persists_across_restarts(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from deepseek_fim_lsp.usage import Usage, UsageLedger

    monkeypatch.setenv("DEEPSEEK_FIM_STATE_DIR", str(tmp_path))
    first = UsageLedger()
    for _ in range(3):  # several records inside the save interval: written at flush
        first.record(Usage(10, 20, 5), config.Prices())
    first.flush()
    again = UsageLedger()
    assert again.today.requests == 3 and again.today.cacheMissTokens == 60
    assert again.session.requests == 0


def test_vscode_declares_the_servers_defaults() -> None:
    """The extension's settings UI shows (and may send) its own defaults: they must be ours."""
    import json
    from pathlib import Path

    manifest = Path(__file__).resolve().parents[2] / "editors" / "vscode" / "package.json"
    props = json.loads(manifest.read_text())["contributes"]["configuration"]["properties"]
    defaults = config.Settings()
    checked = 0
    for name, spec in props.items():
        key = name.removeprefix("deepseekFim.")
        if key not in config._FIELDS or "default" not in spec or spec["default"] == "":
            continue  # extension-only settings; "" is "not set" (the server's default)
        value = getattr(defaults, config._FIELDS[key][0])
        if isinstance(value, config.Prices):
            value = {k: getattr(value, a) for k, a in config._PRICE_KEYS.items()}
        assert spec["default"] == (list(value) if isinstance(value, tuple) else value), key
        checked += 1
    assert checked >= 20
