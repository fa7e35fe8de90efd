"""The soak's checks find what they claim to find, on a hand-made venue and store.

A check that never fires proves nothing: each case here builds the violation by hand on a
simulator engine (no HTTP, no worker) and a stand-in store, and expects exactly its check.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reliability.soak_check import VenueAccount, Verdict, check_soak
from tradeexec.execution.ids import derive_client_order_id
from tradeexec.sim.app import SimConfig, venue_engine
from tradeexec.sim.engine import Engine, OrderKind, OrderSpec, Side
from tradeexec.sim.face import SimContext
from tradeexec.store.records import OrderRecord, SignalRecord

ACCOUNT, ENGINE_ACCOUNT, KEY = "bn", "u1", "k-1"
NOW = datetime.now(UTC)
D = Decimal
SIGNAL_FIELDS = {f.name for f in fields(SignalRecord)}


@dataclass
class FakeStore:
    signals: dict[str, SignalRecord] = field(default_factory=dict)
    orders: list[OrderRecord] = field(default_factory=list)
    state: tuple[str, str | None] = ("ACTIVE", None)

    def get_signal_by_key(self, idempotency_key: str) -> SignalRecord | None:
        return self.signals.get(idempotency_key)

    def list_orders(self, account: Any = None, statuses: Any = None, limit: int = 100) -> Any:
        return list(self.orders)

    def get_trading_state(self, account: str) -> tuple[str, str | None]:
        return self.state

    def signal(self, status: str, key: str = KEY) -> None:
        # a store that records status reasons (issue 7) gets one: its absence is a finding
        reason = {"status_reason": "test"} if "status_reason" in SIGNAL_FIELDS else {}
        self.signals[key] = SignalRecord(
            **reason,
            id=len(self.signals) + 1,
            idempotency_key=key,
            account=ACCOUNT,
            symbol="BTC/USDT:USDT",
            source="agent",
            payload={},
            confidence=None,
            status=status,
            created_at=NOW,
        )

    def open_order(self, client_id: str, role: str = "stop_loss") -> None:
        self.orders.append(
            OrderRecord(
                id=len(self.orders) + 1,
                signal_id=1,
                account=ACCOUNT,
                symbol="BTC/USDT:USDT",
                client_order_id=client_id,
                exchange_order_id="1",
                role=role,
                side="sell",
                order_type="stop_market",
                quantity=D("0.01"),
                price=None,
                trigger_price=D(60000),
                reduce_only=True,
                status="submitted",
                filled_quantity=D(0),
                average_price=None,
                created_at=NOW,
                updated_at=NOW,
            )
        )


def engine() -> Engine:
    venue = venue_engine("binance", SimConfig(), SimContext())
    venue.create_account(ENGINE_ACCOUNT, D(100_000))
    return venue


def cid(role: str, key: str = KEY) -> str:
    return derive_client_order_id(key, role, "binance")


def buy(venue: Engine, qty: str, client_id: str | None) -> None:
    venue.place_order(
        ENGINE_ACCOUNT, OrderSpec("BTC", Side.BUY, OrderKind.MARKET, D(qty), client_id=client_id)
    )


def stop(venue: Engine, qty: str, client_id: str) -> None:
    spec = OrderSpec(
        "BTC",
        Side.SELL,
        OrderKind.STOP_MARKET,
        D(qty),
        trigger_price=D(60000),
        reduce_only=True,
        client_id=client_id,
    )
    venue.place_order(ENGINE_ACCOUNT, spec)


def run(store: FakeStore, venue: Engine, answered: str = "filled") -> Verdict:
    report = {"status": answered, "success": answered in ("filled", "noop", "duplicate")}
    answers = {KEY: [{"key": KEY, "report": report}]}
    account = VenueAccount(ACCOUNT, venue, ENGINE_ACCOUNT, "binance")
    return check_soak(store, [account], {KEY: ACCOUNT}, answers)


def test_a_clean_run_has_no_violation() -> None:
    store, venue = FakeStore(), engine()
    store.signal("filled")
    buy(venue, "0.01", cid("entry"))
    stop(venue, "0.01", cid("stop_loss"))
    store.open_order(cid("stop_loss"))
    assert run(store, venue).violations == []


def test_a_second_entry_for_one_key_is_found() -> None:
    store, venue = FakeStore(), engine()
    store.signal("filled")
    buy(venue, "0.005", cid("entry"))
    buy(venue, "0.005", cid("entry"))  # the first is filled, so the venue takes the id again
    stop(venue, "0.01", cid("stop_loss"))
    store.open_order(cid("stop_loss"))
    assert [v.check for v in run(store, venue).violations] == ["a_double_order"]


def test_a_status_the_venue_contradicts_is_found() -> None:
    store, venue = FakeStore(), engine()
    store.signal("rejected")
    buy(venue, "0.01", cid("entry"))
    stop(venue, "0.01", cid("stop_loss"))
    store.open_order(cid("stop_loss"))
    assert [v.check for v in run(store, venue, "rejected").violations] == ["c_contradicts_venue"]


def test_a_signal_left_received_and_a_lying_duplicate_are_found() -> None:
    store, venue = FakeStore(), engine()
    store.signal("received")
    checks = [v.check for v in run(store, venue, "duplicate").violations]
    assert checks == ["c_not_terminal", "f_answer_contradicts_store"]


def test_open_orders_are_compared_both_ways() -> None:
    store, venue = FakeStore(), engine()
    store.signal("filled")
    buy(venue, "0.01", cid("entry"))
    stop(venue, "0.01", cid("stop_loss"))  # open on the venue, not in the store
    store.open_order(cid("take_profit"), "take_profit")  # open in the store, not on the venue
    checks = sorted(v.check for v in run(store, venue).violations)
    assert checks == ["d_open_not_in_store", "d_open_not_on_venue"]


def test_a_stop_short_of_the_position_is_found_unless_the_account_says_why() -> None:
    store, venue = FakeStore(), engine()
    store.signal("filled")
    buy(venue, "0.01", cid("entry"))
    stop(venue, "0.004", cid("stop_loss"))
    store.open_order(cid("stop_loss"))
    (violation,) = run(store, venue).violations
    assert violation.check == "e_unprotected" and "cover 0.004" in violation.detail
    store.state = ("REDUCING", "position BTC has no resting stop-loss")
    assert run(store, venue).violations == []
