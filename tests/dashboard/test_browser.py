"""The dashboard in a real browser: headless Chromium (the distribution's package) against
the service on real uvicorn and the simulator, the reconcile loop running. One walk through
what an operator does, with a screenshot of each view (``TRADEEXEC_SCREENSHOTS=<dir>``
keeps them; otherwise they go to the test's temp dir).

Never skipped: if Chromium cannot be started the test fails and says what to install."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from api.harness import ADMIN, Live
from dashboard.browser import Chromium
from tradeexec.sim.orders import OrderKind, OrderSpec, Side

HOOK = "/webhooks/tradingview"
SSE_OPEN = (
    "(() => { const el = document.querySelector('[sse-connect]');"
    " const data = el && el['htmx-internal-data'];"
    " return !!(data && data.sseEventSource && data.sseEventSource.readyState === 1); })()"
)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    browser = Chromium(tmp_path / "profile")
    try:
        browser.start()
    except RuntimeError as exc:
        browser.stop()
        pytest.fail(f"cannot start Chromium for the browser test: {exc}")
    try:
        yield browser
    finally:
        browser.stop()


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    keep = os.environ.get("TRADEEXEC_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for shot in folder.iterdir():
            shutil.copy(shot, Path(keep) / shot.name)


def text(browser: Chromium) -> str:
    return str(browser.evaluate("document.body.innerText"))


def reload_until(browser: Chromium, url: str, condition: str, timeout: float = 15) -> None:
    """Open ``url`` again until ``condition`` holds (the reconciler works in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        browser.goto(url)
        if browser.evaluate(condition):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}: still not {condition}")
        time.sleep(0.3)


@pytest.mark.parametrize("live", [0.5], indirect=True)
def test_an_operator_follows_an_alert_live_and_flattens_everything(
    live: Live, chromium: Chromium, shots: Path
) -> None:
    base = live.base_url
    # without a session: the sign-in form; sign in with the admin token
    chromium.goto(f"{base}/ui/signals")
    chromium.wait_for("location.pathname === '/ui/login'")
    chromium.screenshot(shots / "0-sign-in.png")
    chromium.evaluate(
        f"document.getElementById('token').value = {ADMIN!r}; document.forms[0].submit()"
    )
    chromium.wait_for("location.pathname === '/ui/signals' && !!document.querySelector('#inbox')")
    chromium.wait_for(SSE_OPEN)
    chromium.evaluate("window.__notReloaded = true")

    # a TradingView alert sent with an HTTP client appears in the inbox without a reload
    with live.client() as api:
        sent = api.post(HOOK, json=live.alert())
        assert sent.status_code == 202, sent.text
    signal_id = sent.json()["signal_id"]
    started = time.monotonic()
    row = f"document.querySelector('tr[data-signal=\"{signal_id}\"]')"
    chromium.wait_for(row, timeout=3)
    assert time.monotonic() - started < 3
    chromium.wait_for(f"{row} && {row}.innerText.includes('filled')", timeout=10)
    assert chromium.evaluate("window.__notReloaded === true"), "the page was reloaded"
    chromium.screenshot(shots / "1-signals.png")
    chromium.screenshot(shots / "1-signals-phone.png", width=390, height=844)
    chromium.screenshot(shots / "1-signals.png")  # back to the desktop size

    # its story: entry, stop and target with their ids
    chromium.evaluate(f"{row}.querySelector('a').click()")
    chromium.wait_for(f"location.pathname === '/ui/signals/{signal_id}'")
    with live.client() as api:
        story = live.wait_for_signal(api, signal_id)
    for leg in story["orders"]:
        order = leg["order"]
        shown = chromium.evaluate(
            f"document.querySelector('[data-role=\"{order['role']}\"]').innerText"
        )
        assert order["client_order_id"] in shown and order["exchange_order_id"] in shown
    chromium.screenshot(shots / "2-story.png")

    # the price falls through the stop: the position goes, the fill and PnL appear, the
    # target shows cancelled
    chromium.goto(f"{base}/ui/positions")
    assert "protected" in text(chromium) and "0.01 of 0.01" in text(chromium)
    chromium.screenshot(shots / "3-positions.png")
    live.sim.simulator.set_price("BTC", Decimal(66000))
    reload_until(
        chromium, f"{base}/ui/signals/{signal_id}",
        "document.querySelector('[data-role=\"take_profit\"]').innerText.includes('cancel')",
    )  # fmt: skip
    stop_leg = str(chromium.evaluate("document.querySelector('[data-role=stop_loss]').innerText"))
    assert "filled" in stop_leg and "fill sell 0.01" in stop_leg, stop_leg
    chromium.goto(f"{base}/ui/positions")
    assert "BTC/USDT:USDT" not in text(chromium)
    chromium.goto(f"{base}/ui/orders?account=bn")
    fills = str(chromium.evaluate("document.querySelectorAll('table')[1].innerText"))
    assert "BTC/USDT:USDT" in fills and "sell" in fills
    chromium.screenshot(shots / "4-orders-and-fills.png")
    chromium.goto(f"{base}/ui/pnl")
    assert "No fills in these days" not in text(chromium)
    chromium.wait_for("!!document.querySelector('#pnl-chart canvas')")
    chromium.screenshot(shots / "5-pnl.png")

    # a position opened on the venue around tradeexec has no stop: the red banner
    hl = live.sim.simulator.hyperliquid.engine
    hl.place_order(live.creds["hl"]["account"], OrderSpec("BTC", Side.BUY, OrderKind.MARKET,
                                                          Decimal("0.01")))  # fmt: skip
    chromium.goto(f"{base}/ui/health")
    banner = str(chromium.evaluate("document.getElementById('banner').innerText"))
    assert "UNPROTECTED: 1 position" in banner and "hl" in banner, banner
    chromium.screenshot(shots / "6-health-with-banner.png")

    # flatten all, confirmed: HALTED everywhere, positions closed, and the REST API agrees
    chromium.goto(f"{base}/ui/accounts")
    chromium.evaluate(
        "[...document.querySelectorAll('a.button')].find(a => a.innerText === 'Flatten all')"
        ".click()"
    )
    chromium.wait_for("location.pathname === '/ui/accounts/confirm'")
    chromium.screenshot(shots / "7-confirm-flatten.png")
    chromium.evaluate(
        "document.getElementById('confirm').value = 'all';"
        "document.querySelector('form.confirm').submit()"
    )
    chromium.wait_for("location.search === '?done=flatten'")
    chromium.wait_for("document.querySelectorAll('[data-state=\"HALTED\"]').length === 2")
    chromium.screenshot(shots / "8-accounts-halted.png")
    with live.client() as api:
        states = {a["account"]: a["state"] for a in api.get("/accounts").json()["accounts"]}
        assert states == {"bn": "halted", "hl": "halted"}
        assert api.get("/positions").json()["accounts"] == {"bn": [], "hl": []}
    assert live.position("hl") == 0
    chromium.goto(f"{base}/ui/signals")
    assert "UNPROTECTED" not in text(chromium)
