"""The dashboard over real HTTP (uvicorn on a free port, the simulator behind): sign-in,
every page's content for a read token, the kill switch's guards, the red banner."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from api.harness import ADMIN, READER, TRADER, Live
from dashboard.conftest import csrf_of, sign_in
from tradeexec.api.dashboard.session import COOKIE

HOOK = "/webhooks/tradingview"
PAGES = ("/ui/signals", "/ui/positions", "/ui/orders", "/ui/pnl", "/ui/accounts", "/ui/health")


def filled_alert(live: Live) -> dict[str, object]:
    """A bracketed long on bn through the webhook, executed; its REST story."""
    with live.client() as api:
        answer = api.post(HOOK, json=live.alert())
        assert answer.status_code == 202, answer.text
        story = live.wait_for_signal(api, answer.json()["signal_id"])
    assert story["signal"]["status"] == "filled", story["signal"]
    return story


def test_without_a_session_every_page_leads_to_sign_in(live: Live) -> None:
    with live.client(token=None) as anonymous, live.client(token=ADMIN) as bearer:
        assert anonymous.get("/").headers["location"] == "/ui/signals"
        for path in (*PAGES, "/ui/signals/1", "/ui/accounts/confirm?action=halt"):
            for client in (anonymous, bearer):  # a bearer header is not a session
                answer = client.get(path)
                assert answer.status_code == 303, (path, answer.status_code)
                assert answer.headers["location"].startswith("/ui/login?next=%2Fui%2F")
        fragment = anonymous.get("/ui/banner", headers={"HX-Request": "true"})
        assert fragment.status_code == 401 and fragment.headers["hx-redirect"] == "/ui/login"
        assert anonymous.get("/ui/events").status_code == 401
        killed = anonymous.post("/ui/accounts/kill", data={"action": "halt", "account": "all"})
        assert killed.status_code == 303 and killed.headers["location"].startswith("/ui/login")
        form = anonymous.get("/ui/login")
        assert form.status_code == 200 and 'type="password"' in form.text
        wrong = anonymous.post("/ui/login", data={"token": "not-a-token"})
        assert wrong.status_code == 401 and "unknown token" in wrong.text
        assert COOKIE not in anonymous.cookies
        away = anonymous.post("/ui/login", data={"token": READER, "next": "https://evil.example/"})
        assert away.headers["location"] == "/ui/signals"  # no open redirect
        foreign = anonymous.post(
            "/ui/login", data={"token": READER}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403


def test_the_session_cookie_is_httponly_strict_and_not_the_token(live: Live) -> None:
    with live.client(token=None) as browser:
        answer = browser.post("/ui/login", data={"token": READER, "next": "/ui/orders"})
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/orders"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert READER not in cookie
        value = browser.cookies[COOKIE]
        # tampered or forged: no session
        name, rest = value.split(".", 2)[1], value.rsplit(".", 1)[0]
        for forged in (value[:-2] + "xx", f"{rest}.AAAA", f"v1.{name}.9999999999.{'A' * 43}"):
            with live.client(token=None) as other:
                other.cookies.set(COOKIE, forged)
                assert other.get("/ui/signals").status_code == 303
        assert browser.get("/ui/signals").status_code == 200
        page = browser.get("/ui/signals").text
        csrf = csrf_of(page)
        assert browser.post("/ui/logout", data={"csrf": "wrong"}).status_code == 403
        out = browser.post("/ui/logout", data={"csrf": csrf})
        assert out.status_code == 303
        assert browser.get("/ui/signals").status_code == 303


def test_a_read_token_sees_every_view_with_the_alerts_story(live: Live) -> None:
    story = filled_alert(live)
    signal_id = story["signal"]["id"]  # type: ignore[index]
    ids = {o["order"]["role"]: o["order"] for o in story["orders"]}  # type: ignore[attr-defined]
    with sign_in(live, READER) as browser:
        inbox = browser.get("/ui/signals")
        assert inbox.status_code == 200
        assert f'data-signal="{signal_id}"' in inbox.text
        assert "TradingView" in inbox.text and "BTCUSDT" in inbox.text
        assert "filled" in inbox.text and 'sse-connect="/ui/events?types=signal"' in inbox.text
        assert "UNPROTECTED" not in inbox.text  # the stop rests: no banner
        rows = browser.get("/ui/signals/rows", params={"source": "tradingview"})
        assert rows.status_code == 200 and f'data-signal="{signal_id}"' in rows.text
        assert "<html" not in rows.text  # a fragment

        page = browser.get(f"/ui/signals/{signal_id}").text
        for role in ("entry", "stop_loss", "take_profit"):
            assert f'data-role="{role}"' in page
            assert ids[role]["client_order_id"] in page
            assert ids[role]["exchange_order_id"] in page
        assert "decision — approved" in page and "passphrase" not in page

        positions = browser.get("/ui/positions").text
        assert "BTC/USDT:USDT" in positions and "protected" in positions
        assert "0.01 of 0.01" in positions  # the stop covers the whole position

        orders = browser.get("/ui/orders", params={"account": "bn", "symbol": "btc"}).text
        assert ids["entry"]["client_order_id"] in orders and "Fills" in orders
        assert browser.get("/ui/pnl").status_code == 200
        accounts = browser.get("/ui/accounts").text
        assert 'data-state="ACTIVE"' in accounts and "/ui/accounts/confirm" not in accounts
        health = browser.get("/ui/health").text
        assert "writable" in health and "accepted" in health

        assert browser.get("/ui/signals", params={"status": "nonsense"}).status_code == 400
        assert browser.get("/ui/orders", params={"account": "nope"}).status_code == 400
        assert browser.get("/ui/pnl", params={"days": "0"}).status_code == 422
        assert browser.get("/ui/signals/999999").status_code == 404


def test_the_kill_switch_needs_admin_csrf_and_a_confirmation_then_halts(live: Live) -> None:
    filled_alert(live)
    form = {"action": "flatten", "account": "all", "confirm": "all"}
    for token in (READER, TRADER):
        with sign_in(live, token) as browser:
            csrf = csrf_of(browser.get("/ui/accounts").text)
            refused = browser.post("/ui/accounts/kill", data={**form, "csrf": csrf})
            assert refused.status_code == 403 and "admin" in refused.text
            assert browser.get("/ui/accounts/confirm?action=flatten").status_code == 403
    with sign_in(live, ADMIN) as browser:
        confirm = browser.get("/ui/accounts/confirm", params={"action": "flatten"})
        assert confirm.status_code == 200 and "Type <code>all</code> to confirm" in confirm.text
        csrf = csrf_of(confirm.text)
        assert browser.post("/ui/accounts/kill", data=form).status_code == 403  # no CSRF token
        other_site = browser.post(
            "/ui/accounts/kill", data={**form, "csrf": csrf},
            headers={"Origin": "https://evil.example"},
        )  # fmt: skip
        assert other_site.status_code == 403
        unconfirmed = browser.post("/ui/accounts/kill", data={**form, "csrf": csrf, "confirm": ""})
        assert unconfirmed.status_code == 400 and "to confirm" in unconfirmed.text
        bad = browser.post("/ui/accounts/kill", data={**form, "csrf": csrf, "action": "nuke"})
        assert bad.status_code == 400
        with live.client() as api:
            states = {a["account"]: a["state"] for a in api.get("/accounts").json()["accounts"]}
        assert states == {"bn": "active", "hl": "active"}  # nothing refused did anything
        assert live.position() == Decimal("0.01")

        done = browser.post("/ui/accounts/kill", data={**form, "csrf": csrf})
        assert done.status_code == 303 and done.headers["location"] == "/ui/accounts?done=flatten"
        page = browser.get(done.headers["location"]).text
        assert page.count('data-state="HALTED"') == 2 and "Flatten: done" in page
    with live.client() as api:
        states = {a["account"]: a["state"] for a in api.get("/accounts").json()["accounts"]}
        assert states == {"bn": "halted", "hl": "halted"}
        assert api.get("/positions").json()["accounts"] == {"bn": [], "hl": []}
    assert live.position() == 0 and live.open_orders() == []


def test_an_unprotected_position_is_in_the_red_banner_on_every_page(live: Live) -> None:
    filled_alert(live)
    engine = live.sim.simulator.binance.engine
    account = live.creds["bn"]["account"]
    stop = next(o for o in live.open_orders() if o.spec.kind.value.startswith("STOP"))
    engine.cancel_order(account, stop.order_id)  # on the venue, around tradeexec
    with sign_in(live, READER) as browser:
        for path in PAGES:
            text = browser.get(path).text
            assert "UNPROTECTED: 1 position" in text, path
            assert 'class="alarm"' in text and "stop cover 0 of 0.01" in text
        assert "UNPROTECTED" in browser.get("/ui/banner").text
        positions = browser.get("/ui/positions").text
        assert 'class="risk"' in positions and ">unprotected<" in positions


@pytest.mark.parametrize("path", ["/ui/signals/rows", "/ui/banner"])
def test_fragments_answer_htmx_without_a_page_around_them(live: Live, path: str) -> None:
    with sign_in(live, READER) as browser:
        answer = browser.get(path, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "<html" not in answer.text


def test_the_event_stream_needs_a_session_and_sends_signals(live: Live) -> None:
    with sign_in(live, READER) as browser:
        assert browser.get("/ui/events", params={"types": "nope"}).status_code == 400
        cookie = browser.cookies[COOKIE]
    # a plain client: the harness's keeps every body, which a stream never ends
    plain = httpx.Client(base_url=live.base_url, cookies={COOKIE: cookie}, timeout=10)
    with plain, plain.stream("GET", "/ui/events", params={"types": "signal"}) as events:
        assert events.status_code == 200
        with live.client() as api:
            api.post(HOOK, json=live.alert())
        for line in events.iter_lines():
            if line.startswith("event: signal"):
                break
