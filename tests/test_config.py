"""Configuration loading: sources, ${ENV}, errors with file lines, legacy layouts, secrets."""

from __future__ import annotations

import logging
import textwrap
import warnings
from decimal import Decimal
from pathlib import Path

import platformdirs
import pytest
from pydantic import ValidationError

from tradeexec.config import (
    CONFIG_ENV_VAR,
    AccountConfig,
    AppConfig,
    RiskConfig,
    RiskOverrides,
    SecretInConfigWarning,
    SizingConfig,
    SizingOverrides,
    default_config,
    find_config_file,
    load_config,
    load_config_text,
)
from tradeexec.domain import MarginMode
from tradeexec.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "exchange.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(text: str, env: dict[str, str] | None = None) -> AppConfig:
    return load_config_text(textwrap.dedent(text).lstrip("\n"), env or {}, source="cfg.yaml")


def error_of(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(text, env)
    return str(info.value)


@pytest.fixture
def empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory without config/exchange.yaml."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------- sources


def test_default_is_one_paper_account(empty_dir: Path) -> None:
    config = load_config(env={})
    assert list(config.accounts) == ["paper"]
    assert config.default_account == "paper"
    assert config.account().type == "paper"
    data = platformdirs.user_data_path("tradeexec", appauthor=False)
    assert config.store_url == f"sqlite:///{data / 'tradeexec.db'}"
    assert config.market_cache_dir == str(data / "markets")
    assert config.market_cache_ttl_s == 3600
    assert config.service.host == "127.0.0.1" and config.service.port == 8000
    assert config == default_config({})


def test_defaults_of_risk() -> None:
    risk = RiskConfig()
    assert risk.min_confidence == 0.6
    assert risk.default_confidence == 1.0
    assert risk.max_signal_age_s == 60
    assert risk.max_order_notional == Decimal(10000)
    assert risk.max_position_notional == Decimal(50000)
    assert risk.max_open_positions == 5
    assert risk.max_leverage == 20
    assert risk.price_band_pct == Decimal("0.05")
    assert risk.max_orders_per_minute == 30
    assert risk.daily_loss_limit is None and risk.max_drawdown_pct is None
    assert risk.sizing == SizingConfig(mode="risk", risk_pct=Decimal("0.01"))
    assert risk.on_stop_failure == "flatten"
    assert risk.require_stop_loss is False


def test_defaults_of_an_account() -> None:
    account = AccountConfig(type="paper")
    assert account.slippage == Decimal("0.05")
    assert account.starting_balance == Decimal(10000)
    assert account.feed == "walk" and account.seed == 0
    assert account.builder is None and account.referrer is None
    assert not account.testnet and not account.demo and not account.hedge_mode


def test_cwd_config_file_is_used(empty_dir: Path) -> None:
    (empty_dir / "config").mkdir()
    write(empty_dir / "config", "accounts: {x: {type: paper}}\n")
    assert find_config_file(env={}) == Path("config/exchange.yaml")
    assert list(load_config(env={}).accounts) == ["x"]


def test_env_var_names_the_file_and_beats_cwd(empty_dir: Path) -> None:
    (empty_dir / "config").mkdir()
    write(empty_dir / "config", "accounts: {cwd: {type: paper}}\n")
    other = write(empty_dir, "accounts: {env: {type: paper}}\n", "other.yaml")
    assert list(load_config(env={CONFIG_ENV_VAR: str(other)}).accounts) == ["env"]
    explicit = write(empty_dir, "accounts: {arg: {type: paper}}\n", "arg.yaml")
    assert list(load_config(explicit, env={CONFIG_ENV_VAR: str(other)}).accounts) == ["arg"]


def test_named_file_must_exist(empty_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_config("nope.yaml", env={})
    with pytest.raises(ConfigError, match=CONFIG_ENV_VAR):
        load_config(env={CONFIG_ENV_VAR: "missing.yaml"})


def test_file_without_accounts_gets_the_paper_account() -> None:
    config = load("risk: {max_leverage: 3}\n")
    assert list(config.accounts) == ["paper"]
    assert config.risk.max_leverage == 3
    assert list(load("").accounts) == ["paper"]


# --------------------------------------------------------------------------- ${ENV}


def test_env_interpolation() -> None:
    config = load(
        """
        accounts:
          b:
            type: binance
            api_key: ${KEY}
            api_secret: pre-${SECRET}-post
            testnet: ${TESTNET:-true}
            leverage: ${LEV:-7}
            api_url: ${URL:-}
        service: {host: "$${NOT_A_VAR}"}
        """,
        {"KEY": "k1", "SECRET": "s1"},
    )
    account = config.accounts["b"]
    assert account.api_key is not None and account.api_key.get_secret_value() == "k1"
    assert account.api_secret is not None
    assert account.api_secret.get_secret_value() == "pre-s1-post"
    assert account.testnet is True
    assert account.leverage == 7
    assert account.api_url is None  # empty default means unset
    assert config.service.host == "${NOT_A_VAR}"


def test_env_value_beats_default() -> None:
    config = load("accounts: {p: {type: paper, seed: '${SEED:-1}'}}\n", {"SEED": "42"})
    assert config.accounts["p"].seed == 42


def test_missing_variable_names_variable_and_line() -> None:
    message = error_of(
        """
        accounts:
          b:
            type: binance
            api_key: ${BINANCE_KEY_X}
            api_secret: ${S:-x}
        """
    )
    assert "cfg.yaml:4" in message
    assert "BINANCE_KEY_X" in message
    assert "accounts.b.api_key" in message


def test_missing_variable_in_a_list_names_its_line() -> None:
    message = error_of(
        """
        accounts:
          p:
            type: paper
            symbols:
              - BTC/USDT:USDT
              - ${SYM}
        """
    )
    assert "cfg.yaml:6" in message and "SYM" in message


def test_malformed_placeholder() -> None:
    message = error_of("store_url: ${OOPS\n")
    assert "cfg.yaml:1" in message and "malformed" in message


# --------------------------------------------------------------------------- errors


def test_unknown_key_names_key_and_line() -> None:
    message = error_of(
        """
        accounts:
          b:
            type: binance
            api_key: ${K}
            api_sekret: ${S}
        """,
        {"K": "k", "S": "s"},
    )
    assert "cfg.yaml:5: accounts.b.api_sekret: unknown key; did you mean 'api_secret'?" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("risk:\n  max_levrage: 3\n", "cfg.yaml:2: risk.max_levrage: unknown key"),
        ("servce: {}\n", "cfg.yaml:1: servce: unknown key; did you mean 'service'?"),
        (
            "risk:\n  sizing:\n    mod: risk\n",
            "cfg.yaml:3: risk.sizing.mod: unknown key; did you mean 'mode'?",
        ),
        (
            "accounts:\n  p:\n    type: paper\n    risk:\n      max_leverag: 2\n",
            "cfg.yaml:5: accounts.p.risk.max_leverag: unknown key",
        ),
    ],
)
def test_unknown_keys_anywhere(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_bad_values_name_their_line() -> None:
    message = error_of(
        """
        accounts:
          a:
            type: binanc
          b:
            type: paper
            margin_mode: crossed
            leverage: 0
        service:
          port: 99999
        """
    )
    assert "cfg.yaml:3: accounts.a.type: unknown account type 'binanc'" in message
    assert "cfg.yaml:6: accounts.b.margin_mode" in message
    assert "cfg.yaml:7: accounts.b.leverage" in message
    assert "cfg.yaml:9: service.port" in message


def test_missing_required_key_points_at_its_section() -> None:
    message = error_of("accounts:\n  a:\n    testnet: true\n")
    assert "cfg.yaml:2: accounts.a.type: required key is missing" in message


def test_duplicate_key() -> None:
    message = error_of("accounts:\n  a: {type: paper}\n  a: {type: paper}\n")
    assert "cfg.yaml:3" in message and "duplicate" in message


def test_invalid_yaml() -> None:
    assert "not valid YAML" in error_of("accounts: [\n")
    assert "top level must be a mapping" in error_of("- a\n- b\n")


@pytest.mark.parametrize(
    ("account", "message"),
    [
        ("{type: ccxt}", "exchange_id"),
        ("{type: binance, venue: binance}", "only for paper"),
        ("{type: binance, testnet: true, demo: true}", "testnet"),
        ("{type: binance, api_key: '${A:-a}'}", "go together"),
        ("{type: hyperliquid, private_key: '${P:-k}'}", "wallet_address"),
        ("{type: hyperliquid, wallet_address: '0x12'}", "40-hex"),
        ("{type: paper, feed: 'replay:'}", "replay"),
        ("{type: paper, api_url: 'localhost:1'}", "http"),
        ("{type: binance, builder: {address: '0x" + "0" * 40 + "', fee: 0.0001}}", "Hyperliquid"),
        ("{type: paper, slippage: 1.5}", "slippage"),
    ],
)
def test_account_consistency(account: str, message: str) -> None:
    assert message in error_of(f"accounts:\n  a: {account}\n")


def test_default_account_must_exist() -> None:
    assert "default_account 'nope'" in error_of(
        "default_account: nope\naccounts: {a: {type: paper}}\n"
    )


def test_plugin_type_must_be_registered() -> None:
    assert "known: binance, ccxt, hyperliquid, paper" in error_of(
        "accounts: {a: {type: myexchange}}\n"
    )


def test_models_are_frozen() -> None:
    config = load("accounts: {a: {type: paper}}\n")
    with pytest.raises(ValidationError):
        config.default_account = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.accounts["a"].seed = 3  # type: ignore[misc]


# --------------------------------------------------------------------------- legacy


def test_legacy_env_only_binance(empty_dir: Path) -> None:
    config = load_config(env={"BINANCE_API_KEY": "key1", "BINANCE_API_SECRET": "sec1"})
    assert list(config.accounts) == ["binance"]
    assert config.default_account == "binance"
    account = config.account()
    assert account.type == "binance"
    assert account.api_key is not None and account.api_key.get_secret_value() == "key1"
    assert account.api_secret is not None and account.api_secret.get_secret_value() == "sec1"
    assert account.testnet is False


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("0", False)])
def test_legacy_env_testnet(empty_dir: Path, raw: str, expected: bool) -> None:
    env = {"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s", "BINANCE_TESTNET": raw}
    assert load_config(env=env).account().testnet is expected


def test_legacy_env_errors(empty_dir: Path) -> None:
    with pytest.raises(ConfigError, match="BINANCE_API_SECRET"):
        load_config(env={"BINANCE_API_KEY": "k"})
    with pytest.raises(ConfigError, match="BINANCE_TESTNET"):
        load_config(env={"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s", "BINANCE_TESTNET": "x"})


def test_legacy_env_is_ignored_when_a_file_exists(tmp_path: Path) -> None:
    path = write(tmp_path, "accounts: {p: {type: paper}}\n")
    config = load_config(path, env={"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"})
    assert list(config.accounts) == ["p"]


def test_legacy_flat_binance_section() -> None:
    config = load(
        """
        binance:
          api_key: ${BINANCE_API_KEY}
          api_secret: ${BINANCE_API_SECRET}
          testnet: true
        """,
        {"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"},
    )
    assert list(config.accounts) == ["binance"]
    assert config.default_account == "binance"
    account = config.account()
    assert account.type == "binance" and account.testnet is True
    assert account.api_secret is not None and account.api_secret.get_secret_value() == "s"


def test_legacy_flat_binance_section_errors_point_at_it() -> None:
    message = error_of(
        "binance:\n  api_key: ${K}\n  api_secret: ${K}\n  tesnet: true\n", {"K": "k"}
    )
    assert "cfg.yaml:4: accounts.binance.tesnet: unknown key; did you mean 'testnet'?" in message


def test_legacy_flat_binance_section_next_to_accounts() -> None:
    config = load(
        "binance: {api_key: '${K}', api_secret: '${K}'}\naccounts: {p: {type: paper}}\n",
        {"K": "k"},
    )
    assert set(config.accounts) == {"p", "binance"}
    assert "keep one" in error_of(
        "binance: {testnet: true}\naccounts: {binance: {type: binance}}\n"
    )


# --------------------------------------------------------------------------- features


def test_api_url_override() -> None:
    config = load(
        """
        accounts:
          sim:
            type: binance
            api_url: http://127.0.0.1:8765/
            api_key: ${K}
            api_secret: ${K}
        """,
        {"K": "k"},
    )
    assert config.accounts["sim"].api_url == "http://127.0.0.1:8765"


def test_per_account_risk_overrides_merge_key_by_key() -> None:
    config = load(
        """
        risk:
          max_order_notional: 5000
          min_confidence: 0.7
          sizing: {mode: fixed_notional, value: 200}
        accounts:
          small:
            type: paper
            risk:
              max_leverage: 3
              max_open_positions: null
              sizing: {value: 50}
          big:
            type: paper
            risk:
              sizing: {mode: risk}
          plain:
            type: paper
        """
    )
    small = config.risk_for("small")
    assert small.max_leverage == 3  # overridden
    assert small.max_open_positions is None  # explicitly switched off
    assert small.max_order_notional == Decimal(5000)  # from the top-level risk
    assert small.min_confidence == 0.7
    assert small.max_position_notional == Decimal(50000)  # built-in default
    assert small.sizing.mode == "fixed_notional" and small.sizing.value == Decimal(50)
    big = config.risk_for("big")
    assert big.sizing.mode == "risk" and big.sizing.value is None
    assert config.risk_for("plain") == config.risk
    assert config.risk_for(None) == config.risk_for("small")  # first account


def test_risk_override_null_only_for_optional_limits() -> None:
    message = error_of("accounts:\n  p:\n    type: paper\n    risk:\n      max_leverage: null\n")
    assert "cfg.yaml:4" in message and "max_leverage cannot be null" in message


def test_risk_override_checked_against_the_merged_result() -> None:
    message = error_of(
        "accounts:\n  p:\n    type: paper\n    risk:\n      sizing:\n        mode: fixed_notional\n"
    )
    assert "cfg.yaml:5: accounts.p.risk.sizing" in message
    assert "needs a 'value'" in message


def test_risk_overrides_cover_every_risk_setting() -> None:
    assert set(RiskOverrides.model_fields) == set(RiskConfig.model_fields)
    assert set(SizingOverrides.model_fields) == set(SizingConfig.model_fields)


def test_unknown_account_lookup() -> None:
    config = load("accounts: {a: {type: paper}}\n")
    with pytest.raises(ConfigError, match="'b'"):
        config.account("b")


def test_service_secrets_fall_back_to_env() -> None:
    config = load("accounts: {a: {type: paper}}\n", {"TRADEEXEC_WEBHOOK_SECRET": "hook"})
    assert config.service.webhook_secret is not None
    assert config.service.webhook_secret.get_secret_value() == "hook"
    assert config.service.api_token is None
    assert default_config({"TRADEEXEC_API_TOKEN": "t"}).service.api_token is not None


# --------------------------------------------------------------------------- secrets


SECRETS = {"K": "AKIA-very-secret", "S": "s3cr3t-value", "PK": "0xdeadbeefprivate"}

SECRET_YAML = """
accounts:
  b:
    type: binance
    api_key: ${K}
    api_secret: ${S}
    options: {password: hunter2, recvWindow: 5000}
  h:
    type: hyperliquid
    wallet_address: "0x1111111111111111111111111111111111111111"
    private_key: ${PK}
service:
  webhook_secret: ${S}
store_url: postgresql://trader:dbpass@db/tradeexec
"""


def test_secrets_never_in_repr_or_str() -> None:
    config = load(SECRET_YAML, SECRETS)
    for text in (repr(config), str(config), repr(config.accounts["b"]), str(config.service)):
        for secret in SECRETS.values():
            assert secret not in text


def test_redacted() -> None:
    config = load(SECRET_YAML, SECRETS)
    data = config.redacted()
    dumped = repr(data)
    for secret in (*SECRETS.values(), "hunter2", "dbpass"):
        assert secret not in dumped
    assert data["accounts"]["b"]["api_key"] == "***"
    assert data["accounts"]["b"]["options"] == {"password": "***", "recvWindow": 5000}
    assert data["accounts"]["h"]["api_key"] is None
    assert data["accounts"]["h"]["private_key"] == "***"
    assert data["accounts"]["h"]["wallet_address"].startswith("0x1111")
    assert data["service"]["webhook_secret"] == "***"
    assert data["service"]["api_token"] is None
    assert data["store_url"] == "postgresql://trader:***@db/tradeexec"


def test_error_messages_never_echo_values() -> None:
    message = error_of(
        "accounts:\n  b:\n    type: binance\n    api_key: [not-a-string-secret]\n"
        "    api_secret: ${S:-x}\n"
    )
    assert "not-a-string-secret" not in message
    assert "accounts.b.api_key" in message


def test_literal_secret_warns_naming_account_and_key_not_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = "accounts:\n  b:\n    type: binance\n    api_key: plainkey123\n    api_secret: ${S}\n"
    with caplog.at_level(logging.WARNING), pytest.warns(SecretInConfigWarning) as record:
        load(text, {"S": "s"})
    message = str(record[0].message)
    assert "'b'" in message and "api_key" in message and "cfg.yaml:4" in message
    assert "plainkey123" not in message
    assert "plainkey123" not in caplog.text
    assert "api_key" in caplog.text


def test_interpolated_secret_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SecretInConfigWarning)
        load("accounts: {b: {type: binance, api_key: '${K}', api_secret: '${K}'}}\n", {"K": "k"})


def test_blank_secret_means_unset() -> None:
    config = load("accounts: {b: {type: binance, api_key: '${K:-}', api_secret: '${S:-}'}}\n")
    assert config.accounts["b"].api_key is None
    assert not config.accounts["b"].has_credentials


# --------------------------------------------------------------------------- shipped examples


def test_shipped_example_loads_without_credentials() -> None:
    """A fresh clone has no keys: the live accounts are commented out, paper remains."""
    config = load_config(REPO / "config" / "exchange.yaml", env={})
    assert config.default_account == "paper"
    assert set(config.accounts) == {"paper"}
    assert config.risk == RiskConfig()  # the example documents the defaults, unchanged


def _uncommented(text: str, *accounts: str) -> str:
    """The example with the named commented-out account blocks switched on."""
    lines, out, active = text.splitlines(), [], False
    for line in lines:
        if any(line == f"  # {name}:" for name in accounts):
            active = True
        elif active and not line.startswith("  #"):
            active = False
        out.append(line.replace("# ", "", 1) if active else line)
    return "\n".join(out) + "\n"


def test_shipped_example_live_accounts_are_valid_when_switched_on(tmp_path: Path) -> None:
    text = (REPO / "config" / "exchange.yaml").read_text()
    path = write(tmp_path, _uncommented(text, "binance-main", "hl-main", "okx", "sim-hl"))
    env = {
        "BINANCE_API_KEY": "k",
        "BINANCE_API_SECRET": "s",
        "HYPERLIQUID_WALLET_ADDRESS": "0x" + "a" * 40,
        "HYPERLIQUID_PRIVATE_KEY": "0x" + "b" * 64,
        "OKX_API_KEY": "ok",
        "OKX_API_SECRET": "os",
        "OKX_PASSPHRASE": "op",
        "SIM_HL_WALLET": "0x" + "c" * 40,
        "SIM_HL_KEY": "0x" + "d" * 64,
    }
    config = load_config(path, env=env)
    assert {"binance-main", "hl-main", "okx", "sim-hl", "paper"} == set(config.accounts)
    assert config.accounts["binance-main"].has_credentials
    assert config.accounts["hl-main"].wallet_address == "0x" + "a" * 40
    assert config.risk_for("hl-main").max_leverage == 10
    okx = config.accounts["okx"]
    assert okx.password is not None and okx.password.get_secret_value() == "op"
    with pytest.raises(ConfigError, match="BINANCE_API_KEY"):  # required, not ":-"
        load_config(path, env={k: v for k, v in env.items() if k != "BINANCE_API_KEY"})


def test_shipped_example_documents_every_risk_setting() -> None:
    text = (REPO / "config" / "exchange.yaml").read_text()
    for name in (*RiskConfig.model_fields, *SizingConfig.model_fields):
        assert f"{name}:" in text, name


def test_binance_only_example() -> None:
    path = REPO / "config" / "exchange.example-binance-only.yaml"
    with pytest.raises(ConfigError, match="BINANCE_API_KEY"):
        load_config(path, env={})
    config = load_config(path, env={"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"})
    assert config.default_account_name == "binance"
    account = config.account()
    assert account.margin_mode is MarginMode.ISOLATED
    assert account.demo is False
    assert config.risk_for().require_stop_loss is True


# --------------------------------------------------------------------------- state location


def test_state_defaults_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRADEEXEC_HOME", raising=False)
    monkeypatch.delenv("TRADEEXEC_STORE_URL", raising=False)
    urls = set()
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        config = load_config(env={})
        urls.add((config.store_url, config.market_cache_dir))
    [(store, cache)] = urls
    assert not cache.startswith(str(tmp_path))
    assert store.startswith("sqlite:////") and str(tmp_path) not in store


def test_tradeexec_home_and_store_url_env() -> None:
    config = load("accounts: {p: {type: paper}}\n", {"TRADEEXEC_HOME": "/srv/te"})
    assert config.store_url == "sqlite:////srv/te/tradeexec.db"
    assert config.market_cache_dir == "/srv/te/markets"
    env = {"TRADEEXEC_HOME": "/srv/te", "TRADEEXEC_STORE_URL": "postgresql://u:p@db/te"}
    config = load("store_url: sqlite:////elsewhere.db\n", env)
    assert config.store_url == "postgresql://u:p@db/te"  # the environment beats the file
    assert config.market_cache_dir == "/srv/te/markets"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("sqlite:///state/te.db", "sqlite:///{base}/state/te.db"),
        ("state/te.db", "sqlite:///{base}/state/te.db"),
        ("sqlite:////abs/te.db", "sqlite:////abs/te.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://u:p@db:5432/te", "postgresql+psycopg://u:p@db:5432/te"),
    ],
)
def test_relative_store_paths_are_relative_to_the_config_file(
    tmp_path: Path, written: str, expected: str
) -> None:
    path = write(tmp_path, f"store_url: '{written}'\nmarket_cache_dir: mc\n")
    config = load_config(path, env={})
    assert config.store_url == expected.format(base=tmp_path)
    assert config.market_cache_dir == str(tmp_path / "mc")


# --------------------------------------------------------------------------- ccxt credentials


def test_generic_ccxt_account_takes_every_ccxt_credential() -> None:
    config = load(
        """
        accounts:
          okx: {type: ccxt, exchange_id: okx, api_key: '${K}', api_secret: '${S}',
                passphrase: '${P}'}
          other: {type: ccxt, exchange_id: x, api_key: '${K}', api_secret: '${S}',
                  password: '${P}', uid: '42', account_id: acc, login: me, twofa: '${T}',
                  token: '${T}', wallet_address: 'not-evm', private_key: '${T}'}
        """,
        {"K": "key1", "S": "sec1", "P": "pass1", "T": "tok1"},
    )
    assert config.accounts["okx"].ccxt_credentials() == {
        "apiKey": "key1",
        "secret": "sec1",
        "password": "pass1",
    }
    assert config.accounts["other"].ccxt_credentials() == {
        "apiKey": "key1", "secret": "sec1", "uid": "42", "accountId": "acc", "login": "me",
        "password": "pass1", "twofa": "tok1", "privateKey": "tok1", "walletAddress": "not-evm",
        "token": "tok1",
    }  # fmt: skip
    redacted = config.redacted()["accounts"]["other"]
    assert {redacted[k] for k in ("password", "twofa", "token", "private_key")} == {"***"}
    assert redacted["uid"] == "42"
    assert {"key1", "sec1", "pass1", "tok1"} <= set(config.secret_values())


def test_ccxt_only_credentials_are_refused_elsewhere() -> None:
    message = error_of("accounts:\n  b: {type: binance, passphrase: '${P:-x}'}\n")
    assert "only type 'ccxt' accounts" in message and "cfg.yaml:2" in message


def test_literal_passphrase_warns(caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load("accounts: {o: {type: ccxt, exchange_id: okx, passphrase: hunter22}}\n")
    assert "literal passphrase" in caplog.text and "hunter22" not in caplog.text


@pytest.mark.parametrize(
    ("account", "message"),
    [
        ("{type: binance, wallet_address: '0x" + "a" * 40 + "'}", "only for ccxt and Hyperliquid"),
        ("{type: binance, starting_balance: 5}", "only for paper accounts"),
        ("{type: paper, api_key: '${A:-a}', api_secret: '${B:-b}'}", "only for Binance and ccxt"),
        ("{type: hyperliquid, hedge_mode: true}", "'hedge_mode'"),
    ],
)
def test_a_setting_of_another_venue_type_is_an_error_not_a_no_op(
    account: str, message: str
) -> None:
    """One flat account model, but each venue type's settings are its own (config/venues.py)."""
    assert message in error_of(f"accounts:\n  a: {account}\n")
