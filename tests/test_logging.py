"""Logs that help and never leak: -v anywhere, a JSON format, a log file, the reason a
network failure happened, and no configured secret in any line (issue 8)."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import ssl
from pathlib import Path

import aiohttp
import ccxt.async_support as ccxt
import pytest

import test_cli
from test_cli import Setup
from tradeexec import errors
from tradeexec.logging_setup import redact, register_secrets
from tradeexec.network_diagnosis import why_unreachable

setup = test_cli.setup  # the fixture: a YAML config like a user's, on the simulator

# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "args",
    [
        ["-v", "config", "check"],
        ["config", "-v", "check"],
        ["config", "check", "-v"],
        ["config", "check", "--verbose"],
    ],
)
def test_verbose_is_accepted_anywhere_on_the_line(setup: Setup, args: list[str]) -> None:
    result = setup.run(*args)
    assert result.exit_code == 0, result.output
    assert "DEBUG tradeexec.cli: config " in result.stderr  # the debug detail is on


def test_quiet_by_default(setup: Setup) -> None:
    result = setup.run("config", "check")
    assert result.exit_code == 0 and "DEBUG" not in result.stderr


def test_log_file_in_json_gets_the_detail(setup: Setup, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "te.jsonl"
    result = setup.run("balance", "--log-file", str(log), "--log-format", "json")
    assert result.exit_code == 0, result.output
    assert "DEBUG" not in result.stderr  # the terminal stays quiet without -v
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries and all({"ts", "level", "logger", "message"} <= set(e) for e in entries)
    assert any(e["logger"] == "tradeexec.cli" and e["level"] == "DEBUG" for e in entries)


def test_a_network_failure_says_why_and_where_in_the_log(setup: Setup, tmp_path: Path) -> None:
    setup.config.write_text(
        setup.config.read_text() + "  gone:\n    type: binance\n    api_url: http://127.0.0.1:1\n"
    )
    log = tmp_path / "te.log"
    result = setup.run("balance", "-a", "gone", "--log-file", str(log))
    assert result.exit_code == 1
    assert "connection refused: 127.0.0.1:1" in result.stderr
    text = log.read_text()
    assert "ConnectionRefusedError" in text and "balance failed" in text


# --------------------------------------------------------------------------- secrets


def test_no_configured_secret_in_any_log_line(
    setup: Setup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Everything logged at full detail (-vv: ccxt logs each request with its headers, the
    Binance API key among them) during orders, a refusal and an auth failure."""
    setup.config.write_text(
        setup.config.read_text()
        + f"""\
  bn-wrong:
    type: binance
    api_url: {setup.sim.base_url}
    api_key: ${{TEST_BN_KEY}}
    api_secret: wrong-secret-value-123
"""
    )
    log = tmp_path / "all.log"
    caplog.set_level(logging.DEBUG)
    outputs = []
    for args in (
        ["order", "buy", "BTC", "0.01"],
        ["order", "buy", "BTC", "0.01", "-a", "hl-main"],
        ["order", "buy", "BTC", "5"],  # refused by risk
        ["balance", "-a", "bn-wrong"],  # refused by the venue
        ["health"],
        ["config", "check"],
    ):
        result = setup.run(*args, "-vv", "--log-file", str(log))
        outputs.append(result.output)
    text = log.read_text()
    assert "X-MBX-APIKEY" in text  # ccxt's request lines were captured, headers masked
    assert "authentication_failed" in "".join(outputs)
    hl_key_bare = setup.hl_private_key.removeprefix("0x")
    secrets = [
        os.environ["TEST_BN_KEY"],  # the Binance API key, sent in a header ccxt logs
        setup.bn_secret,
        setup.hl_private_key,
        hl_key_bare,
        "wrong-secret-value-123",
    ]
    for secret in secrets:
        assert secret not in text
        assert secret not in caplog.text
        for output in outputs:
            assert secret not in output


def test_redact_masks_registered_and_secret_shaped_values() -> None:
    register_secrets(["my-registered-secret", "abc"])  # too short to mask safely: ignored
    line = (
        "GET /fapi/v2/balance?timestamp=1&signature=deadbeef01 {'X-MBX-APIKEY': 'k123'} "
        "my-registered-secret key=0x" + "ab" * 32 + " abc"
    )
    out = redact(line)
    for leaked in ("deadbeef01", "k123", "my-registered-secret", "ab" * 32):
        assert leaked not in out
    assert out.endswith(" abc") and "signature=***" in out


# --------------------------------------------------------------------------- why


def _wrapped(cause: BaseException, url: str = "http://venue.example:443") -> errors.NetworkError:
    """Our error over ccxt's over the transport's, chained as the real ones are."""
    try:
        try:
            raise cause
        except BaseException as transport:
            raise ccxt.ExchangeNotAvailable(f"binanceusdm GET {url}/fapi/v1/time") from transport
    except ccxt.ExchangeNotAvailable as venue:
        try:
            raise errors.ExchangeUnavailable(str(venue)) from venue
        except errors.ExchangeUnavailable as ours:
            return ours


def _connector(os_error: OSError, cls: type[aiohttp.ClientConnectorError]) -> BaseException:
    key = type("Key", (), {"host": "venue.example", "port": 443, "ssl": True})()
    return cls(key, os_error)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "DNS lookup failed"),
        (TimeoutError(), "timed out"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "TLS failed"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), "connection dropped"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "network unreachable"),
    ],
)
def test_why_unreachable_names_the_cause_and_the_place(cause: BaseException, expected: str) -> None:
    why = why_unreachable(_wrapped(cause))
    assert why is not None and why.startswith(expected)
    assert why.endswith("http://venue.example:443")


def test_why_unreachable_reads_aiohttp_connector_errors() -> None:
    dns = aiohttp.ClientConnectorDNSError
    err = _connector(socket.gaierror(-2, "unknown"), dns)
    assert why_unreachable(_wrapped(err)) == "DNS lookup failed: venue.example:443"
    assert why_unreachable(errors.InvalidOrder("no")) is None
