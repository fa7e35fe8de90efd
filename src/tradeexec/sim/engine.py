"""The simulator's matching engine: one venue's markets, accounts, orders, triggers and fills.

The engine knows nothing about HTTP or wire formats; the Binance and Hyperliquid faces
translate to and from it, and `PaperTrader` drives it in-process. Everything is Decimal.

Model (documented in the README, section "Simulator"):
- No order book depth by default (`sim.book` adds seeded levels, walked by taker orders):
  the best bid/ask are the mark price -/+ half the configured spread. A market order fills
  whole at that price (taker). A limit order that crosses on arrival fills at the touch
  (taker); otherwise it rests and fills at its own price (maker) once the touch moves
  through it.
- Trigger orders fire on the mark or the last price (`orders.trigger_hit`, per order); the
  last price moves with the mark unless set apart (`set_mark(last=)`) and with each fill.
- Reduce-only plain orders are refused if they would not reduce; reduce-only triggers are
  checked when they fire (as on both real venues) and expire if nothing is left to reduce.
  Resting reduce-only orders in the book end when the position closes or flips
  (`_end_reduce_only`; each face names it as its venue does).
- Margin: available = wallet + unrealised PnL - position margin - margin of resting orders.
  Opening exposure needs notional / leverage of available margin (liquidation: `clearing`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from tradeexec.sim.account_snapshot import AccountState, dump_account, load_account
from tradeexec.sim.accounting import (
    ZERO,
    Account,
    AccountSummary,
    Position,
    PositionSide,
    settle,
)
from tradeexec.sim.book import walk
from tradeexec.sim.engine_accounts import AccountBook
from tradeexec.sim.filters import check_filters
from tradeexec.sim.markets import MarketSpec
from tradeexec.sim.orders import (
    Fill,
    OrderKind,
    OrderSpec,
    OrderStatus,
    Reject,
    Side,
    SimError,
    SimOrder,
    TimeInForce,
    trigger_hit,
    wall_clock_ms,
)

__all__ = [
    "Engine",
    "Fill",
    "OrderKind",
    "OrderSpec",
    "OrderStatus",
    "Reject",
    "Side",
    "SimError",
    "SimOrder",
    "TimeInForce",
    "wall_clock_ms",
]


class Engine(AccountBook):
    """One venue: its markets, marks, accounts and orders."""

    def __init__(
        self,
        markets: Iterable[MarketSpec],
        *,
        collateral: str,
        maker_fee: Decimal = Decimal("0.0002"),
        taker_fee: Decimal = Decimal("0.0005"),
        spread_bps: Decimal = Decimal("2"),
        default_leverage: int = 20,
        reject_immediate_trigger: bool = True,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        super().__init__(markets, default_leverage)
        self.collateral = collateral
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.spread_bps = spread_bps
        self.reject_immediate_trigger = reject_immediate_trigger
        self.clock = clock
        self.marks: dict[str, Decimal] = {m.coin: m.initial_price for m in self.markets.values()}
        self.lasts: dict[str, Decimal] = dict(self.marks)  # the last trade price per coin
        self.orders: dict[int, SimOrder] = {}
        self.fills: list[Fill] = []
        self._by_client: dict[tuple[str, str], SimOrder] = {}
        self._by_placed: dict[int, SimOrder] = {}  # a fired trigger, by the id it placed under
        self._order_ids = itertools.count(1_000_001)
        self._trade_ids = itertools.count(5_000_001)

    # ----------------------------------------------------------------- lookups
    def get_order(
        self, account_id: str, order_id: int | None = None, client_id: str | None = None
    ) -> SimOrder:
        order: SimOrder | None = None
        if order_id is not None:
            order = self.orders.get(order_id)
        elif client_id is not None:
            order = self._by_client.get((account_id, client_id))
        if order is None or order.account_id != account_id:
            raise SimError(Reject.UNKNOWN_ORDER, str(order_id or client_id))
        return order

    def placed_by_trigger(self, account_id: str, placed_id: int) -> SimOrder | None:
        """The fired trigger whose placed order has this id (see `SimOrder.placed_id`)."""
        order = self._by_placed.get(placed_id)
        return order if order is not None and order.account_id == account_id else None

    def open_orders(self, account_id: str, coin: str | None = None) -> list[SimOrder]:
        return [
            o
            for o in self.orders.values()
            if o.account_id == account_id
            and o.status.is_open
            and (coin is None or o.spec.coin == coin)
        ]

    def account_fills(self, account_id: str, coin: str | None = None) -> list[Fill]:
        return [
            f for f in self.fills if f.account_id == account_id and (coin is None or f.coin == coin)
        ]

    def bid_ask(self, coin: str) -> tuple[Decimal, Decimal]:
        spec, mark = self.market(coin), self.marks[coin]
        half = mark * self.spread_bps / Decimal(20000)
        bid, ask = spec.round_price(mark - half), spec.round_price(mark + half)
        if spec.tick_size is not None and ask <= bid:
            ask = bid + spec.tick_size
        return bid, ask

    def summary(self, account_id: str) -> AccountSummary:
        acct = self.account(account_id)
        unreal = sum((p.unrealized(self.marks[p.coin]) for p in acct.open_positions()), ZERO)
        pos_margin = sum(
            (
                abs(p.qty) * self.marks[p.coin] / self.leverage(account_id, p.coin)
                for p in acct.open_positions()
            ),
            ZERO,
        )
        order_margin = sum((self._order_margin(o) for o in self.open_orders(account_id)), ZERO)
        equity = acct.wallet_balance + unreal
        return AccountSummary(
            wallet_balance=acct.wallet_balance,
            unrealized_pnl=unreal,
            equity=equity,
            position_margin=pos_margin,
            order_margin=order_margin,
            available=equity - pos_margin - order_margin,
            fees_paid=acct.fees_paid,
            realized_pnl=acct.realized_pnl,
        )

    # ----------------------------------------------------------- snapshots
    def export_account(
        self, account_id: str, *, closed_orders: int | None = None, fills: int | None = None
    ) -> dict[str, Any]:
        """One account's whole state as JSON-ready data (`sim.account_snapshot`): balances,
        positions and settings, every open order and the last ``closed_orders`` closed ones,
        the last ``fills`` fills (None: all of them), the venue's marks and the next order and
        trade ids (so ids are never reused after `import_account`)."""
        acct = self.account(account_id)
        mine = sorted(
            (o for o in self.orders.values() if o.account_id == account_id),
            key=lambda o: o.order_id,
        )
        return dump_account(
            AccountState(
                acct, mine, self.account_fills(account_id), dict(self.marks), *self._next_ids()
            ),
            closed_orders=closed_orders,
            fills=fills,
        )

    def import_account(self, data: dict[str, Any]) -> str:
        """Replace one account's state (orders and fills included) by an `export_account`
        snapshot; returns its id. Marks move to the snapshot's without firing anything (they
        were settled when it was taken); order and trade ids never go back. A malformed
        snapshot raises (KeyError, ValueError) and leaves the engine as it was."""
        state = load_account(data, self.markets)
        next_order_id, next_trade_id = self._next_ids()
        account_id = state.account.account_id
        self.accounts[account_id] = state.account
        kept = [o for o in self.orders.values() if o.account_id != account_id]
        self.orders, self._by_client, self._by_placed = {}, {}, {}
        for order in sorted([*kept, *state.orders], key=lambda o: o.order_id):
            self._register(order)  # in id order: a reused client id maps to its latest order
        others = [f for f in self.fills if f.account_id != account_id]
        self.fills = sorted([*others, *state.fills], key=lambda f: f.trade_id)
        self.marks.update(state.marks)
        self._order_ids = itertools.count(max(next_order_id, state.next_order_id))
        self._trade_ids = itertools.count(max(next_trade_id, state.next_trade_id))
        return account_id

    def _next_ids(self) -> tuple[int, int]:
        """The next order and trade ids, without using them up."""
        order_id, trade_id = next(self._order_ids), next(self._trade_ids)
        self._order_ids, self._trade_ids = itertools.count(order_id), itertools.count(trade_id)
        return order_id, trade_id

    # -------------------------------------------------------------- orders
    def place_order(self, account_id: str, spec: OrderSpec) -> SimOrder:
        """Validate, accept and (where it can) execute an order. Raises SimError on refusal."""
        acct = self.account(account_id)
        self._validate(acct, spec)
        now = self.clock()
        order = SimOrder(next(self._order_ids), account_id, spec, now, now)
        if spec.parent_id is not None:
            parent = self.get_order(account_id, spec.parent_id)
            order.armed = parent.status is OrderStatus.FILLED
        if spec.kind.is_trigger:
            hit_now = order.armed and trigger_hit(
                spec, self.marks[spec.coin], self.lasts[spec.coin]
            )
            if hit_now and self.reject_immediate_trigger:
                raise SimError(Reject.WOULD_TRIGGER_IMMEDIATELY, str(spec.trigger_price))
            self._register(order)
            if hit_now:
                self._fire(order)
            return order
        self._check_margin(acct, spec, self._reference_price(spec))
        if spec.kind is OrderKind.LIMIT and not self._crosses(spec, spec.price):
            self._register(order)
            if spec.tif in (TimeInForce.IOC, TimeInForce.FOK):
                self._close(order, OrderStatus.EXPIRED, Reject.IOC_NO_MATCH)
            return order
        if spec.kind is OrderKind.LIMIT and spec.tif is TimeInForce.POST_ONLY:
            raise SimError(Reject.POST_ONLY_WOULD_CROSS, "post-only order would take liquidity")
        self._register(order)
        self._execute_taker(order)
        return order

    def cancel_order(
        self, account_id: str, order_id: int | None = None, client_id: str | None = None
    ) -> SimOrder:
        order = self.get_order(account_id, order_id, client_id)
        if not order.status.is_open:
            raise SimError(Reject.ORDER_NOT_OPEN, str(order.order_id))
        self._close(order, OrderStatus.CANCELED)
        return order

    def cancel_all(self, account_id: str, coin: str | None = None) -> list[SimOrder]:
        cancelled = self.open_orders(account_id, coin)
        for order in cancelled:
            self._close(order, OrderStatus.CANCELED)
        return cancelled

    # --------------------------------------------------------------- prices
    def set_mark(self, coin: str, price: Decimal, last: Decimal | None = None) -> list[Fill]:
        """Move the mark and last price (``last``, else the mark); fire the triggers and fill
        the resting orders they cross (triggers watch the prices set here, not the fills)."""
        spec = self.market(coin)
        mark = self.marks[coin] = spec.round_price(price)
        last_price = self.lasts[coin] = spec.round_price(price if last is None else last)
        before = len(self.fills)
        for order in sorted(self.open_orders_all(coin), key=lambda o: o.order_id):
            if not order.status.is_open or not order.armed:
                continue
            if order.is_untriggered:
                if trigger_hit(order.spec, mark, last_price):
                    self._fire(order)
            elif order.spec.price is not None and self._crosses(order.spec, order.spec.price):
                depth = self.depth_for(order.account_id)  # sim.book: `size` per mark move
                cap = None if depth is None else depth.size
                self._fill(order, order.spec.price, maker=True, qty=cap)
        return self.fills[before:]

    def set_marks(self, marks: dict[str, Decimal]) -> list[Fill]:
        fills: list[Fill] = []
        for coin, price in marks.items():
            if coin in self.markets:
                fills.extend(self.set_mark(coin, price))
        return fills

    def open_orders_all(self, coin: str) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.status.is_open and o.spec.coin == coin]

    # ------------------------------------------------------------ internals
    def _validate(self, acct: Account, spec: OrderSpec) -> None:
        market = self.market(spec.coin)
        if acct.hedge_mode == (spec.position_side is PositionSide.BOTH):
            raise SimError(Reject.POSITION_SIDE_MISMATCH, spec.position_side.value)
        # as on Binance, a client id must be unique among OPEN orders only: a stricter rule here
        # would hide a client that resends a filled order under the same id
        if spec.client_id is not None:
            previous = self._by_client.get((acct.account_id, spec.client_id))
            if previous is not None and previous.status.is_open:
                raise SimError(Reject.DUPLICATE_CLIENT_ID, spec.client_id)
        check_filters(spec, market)
        if spec.close_position:
            return
        if spec.reduce_only and not spec.kind.is_trigger:
            if self._reducible(acct, spec) <= 0:
                raise SimError(Reject.REDUCE_ONLY, "reduce-only order would increase position")
            return
        if not spec.reduce_only:
            notional = spec.qty * self._reference_price(spec)
            if notional < market.min_notional:
                raise SimError(Reject.BELOW_MIN_NOTIONAL, f"{notional} < {market.min_notional}")

    def _reference_price(self, spec: OrderSpec) -> Decimal:
        if spec.price is not None:
            return spec.price
        if spec.trigger_price is not None:
            return spec.trigger_price
        bid, ask = self.bid_ask(spec.coin)
        return ask if spec.side is Side.BUY else bid

    def _position_for(self, acct: Account, spec: OrderSpec) -> Position:
        return acct.position(spec.coin, spec.position_side)

    def _signed(self, spec: OrderSpec, qty: Decimal) -> Decimal:
        return qty if spec.side is Side.BUY else -qty

    def _reducible(self, acct: Account, spec: OrderSpec) -> Decimal:
        """How much of this order would reduce the position it targets."""
        pos = self._position_for(acct, spec)
        if pos.qty == 0 or (pos.qty > 0) == (spec.side is Side.BUY):
            return ZERO
        return abs(pos.qty)

    def _increase_qty(self, acct: Account, spec: OrderSpec, qty: Decimal) -> Decimal:
        return max(ZERO, qty - self._reducible(acct, spec))

    def _check_margin(self, acct: Account, spec: OrderSpec, price: Decimal) -> None:
        if spec.reduce_only:
            return
        increase = self._increase_qty(acct, spec, spec.qty)
        if increase == 0:
            return
        lev = self.leverage(acct.account_id, spec.coin)
        cap = self.market(spec.coin).max_notional(lev)
        if cap is not None:  # the notional bracket of the current leverage (Binance -2027)
            held = abs(self._position_for(acct, spec).qty)
            after = held + increase if self._reducible(acct, spec) == 0 else increase
            if after * price > cap:
                raise SimError(Reject.ABOVE_MAX_NOTIONAL, f"{after * price} > {cap} at {lev}x")
        required = increase * price / lev + increase * price * self.taker_fee
        available = self.summary(acct.account_id).available
        if required > available:
            raise SimError(
                Reject.INSUFFICIENT_MARGIN, f"needs {required:.4f}, available {available:.4f}"
            )

    def _order_margin(self, order: SimOrder) -> Decimal:
        spec = order.spec
        if spec.reduce_only or spec.kind is not OrderKind.LIMIT or order.is_untriggered:
            return ZERO
        price = spec.price or self.marks[spec.coin]
        return order.remaining * price / self.leverage(order.account_id, spec.coin)

    def _crosses(self, spec: OrderSpec, price: Decimal | None) -> bool:
        if price is None:
            return True
        bid, ask = self.bid_ask(spec.coin)
        return price >= ask if spec.side is Side.BUY else price <= bid

    def _register(self, order: SimOrder) -> None:
        self.orders[order.order_id] = order
        if order.spec.client_id is not None:
            self._by_client[(order.account_id, order.spec.client_id)] = order
        if order.placed_id is not None:
            self._by_placed[order.placed_id] = order

    def _fire(self, order: SimOrder) -> None:
        """A trigger was hit: check reduce-only and margin now, then execute."""
        order.triggered_ms = self.clock()
        acct = self.account(order.account_id)
        spec = order.spec
        if spec.reduce_only or spec.close_position:
            reducible = self._reducible(acct, spec)
            if reducible <= 0:
                self._close(order, OrderStatus.EXPIRED, Reject.REDUCE_ONLY)
                return
        try:
            self._check_margin(acct, spec, self._reference_price(spec))
        except SimError as exc:
            self._close(order, OrderStatus.EXPIRED, exc.reason)
            return
        order.placed_id = next(self._order_ids)  # the checks passed: an order is placed
        self._register(order)
        if spec.kind.needs_price and not self._crosses(spec, spec.price):
            return  # now a resting limit order
        self._execute_taker(order)

    def _execute_taker(self, order: SimOrder) -> None:
        spec, depth = order.spec, self.depth_for(order.account_id)
        bid, ask = self.bid_ask(spec.coin)
        price = ask if spec.side is Side.BUY else bid
        if depth is None:
            self._fill(order, price, maker=False)
            return
        buy, market = spec.side is Side.BUY, self.market(spec.coin)
        levels = depth.book(
            spec.coin, buy, price, self.marks[spec.coin], market.round_price, market.round_qty_down
        )
        want = order.remaining
        if spec.reduce_only or spec.close_position:
            want = min(want, self._reducible(self.account(order.account_id), spec))
        limit = spec.price if spec.kind.needs_price else None
        steps = walk(levels, want, buy, limit)
        if spec.tif is TimeInForce.FOK and sum((q for _, q in steps), ZERO) < want:
            steps = []
        for level_price, qty in steps:  # sim.book: one fill per level walked
            if order.status.is_open:
                self._fill(order, level_price, maker=False, qty=qty)
        if order.status.is_open and (
            not spec.kind.needs_price or spec.tif in (TimeInForce.IOC, TimeInForce.FOK)
        ):  # the rest of a market / IOC order expires; a GTC limit rests
            reason = None if order.filled_qty > 0 else Reject.IOC_NO_MATCH
            self._close(order, OrderStatus.EXPIRED, reason)

    def _fill(
        self, order: SimOrder, price: Decimal, *, maker: bool, qty: Decimal | None = None
    ) -> None:
        acct = self.account(order.account_id)
        spec = order.spec
        qty = order.remaining if qty is None else min(qty, order.remaining)
        if spec.close_position:
            qty = self._reducible(acct, spec)
        elif spec.reduce_only:
            qty = min(qty, self._reducible(acct, spec))
        if qty <= 0:
            self._close(order, OrderStatus.EXPIRED, Reject.REDUCE_ONLY)
            return
        rate = self.maker_fee if maker else self.taker_fee
        fee = settle(qty * price * rate)
        realized = self._position_for(acct, spec).apply(self._signed(spec, qty), price)
        acct.book_fill(realized, fee)
        self.lasts[spec.coin] = price
        now = self.clock()
        fill = Fill(
            trade_id=next(self._trade_ids),
            order_id=order.order_id,
            client_id=spec.client_id,
            account_id=acct.account_id,
            coin=spec.coin,
            side=spec.side,
            qty=qty,
            price=price,
            fee=fee,
            realized_pnl=realized,
            maker=maker,
            time_ms=now,
            position_side=spec.position_side,
        )
        self.fills.append(fill)
        order.avg_price = (order.avg_price * order.filled_qty + price * qty) / (
            order.filled_qty + qty
        )
        order.filled_qty += qty
        order.fee_paid += fee
        order.trade_ids.append(fill.trade_id)
        order.updated_ms = now
        reduced = spec.reduce_only and self._reducible(acct, spec) <= 0  # nothing left to reduce
        if order.remaining <= 0 or spec.close_position or reduced:
            order.status = OrderStatus.FILLED
        for child in self.orders.values():
            if child.spec.parent_id == order.order_id and child.status.is_open:
                child.armed = True
        self._end_reduce_only(acct, spec, order)

    def _end_reduce_only(self, acct: Account, spec: OrderSpec, filled: SimOrder) -> None:
        """Resting reduce-only orders that no longer reduce the position (it closed or
        flipped) end, as on both venues: Binance expires them ("The reduceOnly open order is
        expired due to current position has been closed", Binance developer FAQ "Futures
        LIMIT order got expired", dev.binance.vision/t/802); Hyperliquid cancels them
        (``reduceOnlyCanceled``: "Canceled reduced-only order that does not reduce position",
        info endpoint, order status table). Only orders in the book: an untriggered trigger
        (a Binance algo order, a Hyperliquid trigger) stays and is checked when it fires,
        unless it is GTE_GTC (Binance): those expire, triggered or not, once flat."""
        flat = self._position_for(acct, spec).qty == 0
        for other in self.open_orders(acct.account_id, spec.coin):
            if other is filled or other.spec.position_side is not spec.position_side:
                continue
            if (flat and other.spec.tif is TimeInForce.GTE_GTC) or (
                other.spec.reduce_only
                and not other.is_untriggered
                and self._reducible(acct, other.spec) <= 0
            ):
                self._close(other, OrderStatus.EXPIRED, Reject.REDUCE_ONLY)

    def _close(self, order: SimOrder, status: OrderStatus, reason: Reject | None = None) -> None:
        order.status = status
        order.expire_reason = reason
        order.updated_ms = self.clock()
        for child in self.orders.values():
            if child.spec.parent_id == order.order_id and child.status.is_open and not child.armed:
                self._close(child, OrderStatus.CANCELED)
