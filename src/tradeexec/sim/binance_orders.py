"""The order endpoints of the simulator's Binance face: plain orders and algo orders.

Plain: ``/fapi/v1/order`` (new, cancel, query), ``openOrder``, ``openOrders``, ``allOrders``,
``allOpenOrders``. Algo (conditional orders, as on Binance since 2025-12): ``/fapi/v1/algoOrder``,
``openAlgoOrders``, ``allAlgoOrders``, ``algoOpenOrders``. One engine order has two views: an
untriggered trigger order exists only on the algo endpoints (``algoId`` is its engine id);
once it fires, the order it placed shows up on the plain endpoints under its own id
(``actualOrderId``, the engine order's `placed_id`) and its clientAlgoId as clientOrderId.
The plain endpoints never answer to an algoId (-2013, as live).

Also `Call`, a request as every handler of the face sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeexec.sim import binance_errors as err
from tradeexec.sim import binance_render as render
from tradeexec.sim.binance_errors import BinanceError
from tradeexec.sim.binance_params import Params, market_for, parse_new_order
from tradeexec.sim.engine import Engine, OrderStatus, Reject, SimError, SimOrder, TimeInForce
from tradeexec.sim.markets import MarketSpec

__all__ = ["CANCEL_ALL_DONE", "BinanceOrders", "Call"]

CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}
DAY_MS = 86_400_000
# "Query Order" / "All Orders" (USD-M, 2026 docs): "These orders will not be found: order
# status is CANCELED or EXPIRED AND order has NO filled trade AND created time + 3 days <
# current time; order create time + 90 days < current time" (older pages said 7 days)
FORGET_UNFILLED_MS = 3 * DAY_MS
FORGET_ANY_MS = 90 * DAY_MS
_CODE_200 = {"code": "200", "msg": "success"}


@dataclass(frozen=True, slots=True)
class Call:
    params: Params
    account: str  # "" on public endpoints

    def market(self, engine: Engine, *, required: bool = True) -> MarketSpec | None:
        """The ``symbol`` parameter's market (None if optional and absent)."""
        symbol = self.params.required("symbol") if required else self.params.get("symbol")
        return market_for(engine, symbol) if symbol is not None else None


class BinanceOrders:
    """The plain and algo order endpoints over the face's current `Engine`."""

    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine  # the face's engine, which a simulator reset replaces
        self._extras: dict[int, dict[str, Any]] = {}  # echoed-only parameters, by order id

    def reset(self) -> None:
        self._extras.clear()

    # ------------------------------------------------------------- helpers
    def _extra(self, order: SimOrder) -> dict[str, Any]:
        return self._extras.get(order.order_id, {})

    def _find(self, call: Call, *, algo: bool, missing: err.Answer) -> SimOrder:
        """The caller's order (plain view or algo view), or the ``missing`` answer."""
        id_name, client_name = (
            ("algoId", "clientAlgoId") if algo else ("orderId", "origClientOrderId")
        )
        engine = self._engine()
        market = call.market(engine, required=not algo)
        order_id, client_id = call.params.order_ref(id_name, client_name)
        placed = (
            None if algo or order_id is None else engine.placed_by_trigger(call.account, order_id)
        )
        try:
            order = placed or engine.get_order(call.account, order_id, client_id)
        except SimError:
            raise missing.error() from None
        if market is not None and order.spec.coin != market.coin:
            raise missing.error()
        if algo and not order.spec.kind.is_trigger:
            raise missing.error()  # a plain id on the algo endpoints
        if (
            not algo
            and order.spec.kind.is_trigger
            and (order.placed_id is None or (order_id is not None and placed is None))
        ):
            raise missing.error()  # an algoId, or an algo order that placed nothing (yet)
        return order

    def _place(self, call: Call, *, algo: bool) -> tuple[SimOrder, MarketSpec, str]:
        engine = self._engine()
        hedge = engine.account(call.account).hedge_mode
        new = parse_new_order(call.params, engine, hedge, algo=algo)
        open_orders = engine.open_orders(call.account, new.market.coin)
        if algo and sum(o.is_untriggered for o in open_orders) >= render.MAX_NUM_ALGO_ORDERS:
            raise BinanceError(-4045, "Reach max stop order limit.")
        if not algo and len(open_orders) >= render.MAX_NUM_ORDERS:
            raise BinanceError(-2025, "Reach max open order limit.")
        try:
            order = engine.place_order(call.account, new.spec)
        except SimError as exc:
            raise err.from_reject(exc.reason, min_notional_value=new.market.min_notional) from None
        if new.extras:
            self._extras[order.order_id] = new.extras
        if (
            new.spec.tif is TimeInForce.FOK
            and order.status is OrderStatus.EXPIRED
            and order.expire_reason is Reject.IOC_NO_MATCH
        ):
            raise err.FOK_REJECTED.error()
        return order, new.market, new.resp_type

    def _shown(self, order: SimOrder) -> Any:
        return render.order(self._engine().market(order.spec.coin), order, self._extra(order))

    def _shown_algo(self, order: SimOrder) -> Any:
        market = self._engine().market(order.spec.coin)
        return render.algo_order(market, order, self._extra(order))

    # --------------------------------------------------------- plain orders
    def new(self, call: Call) -> Any:
        order, market, resp_type = self._place(call, algo=False)
        shown = render.order(market, order, self._extra(order), with_time=False)
        if resp_type == "ACK":  # the acknowledgement, before any execution
            zero_qty = render.qty(market, Decimal(0))
            shown.update(
                status="NEW", executedQty=zero_qty, cumQty=zero_qty,
                cumQuote=render.money(Decimal(0)), avgPrice=render.fixed(Decimal(0), 5),
                updateTime=order.created_ms,
            )  # fmt: skip
        return shown

    def cancel(self, call: Call) -> Any:
        order = self._find(call, algo=False, missing=err.UNKNOWN_ORDER_SENT)
        if not order.status.is_open:
            raise err.UNKNOWN_ORDER_SENT.error()
        self._engine().cancel_order(call.account, order.order_id)
        return render.order(
            self._engine().market(order.spec.coin), order, self._extra(order), with_time=False
        )

    def get(self, call: Call) -> Any:
        order = self._find(call, algo=False, missing=err.ORDER_DOES_NOT_EXIST)
        if self._forgotten(order):
            raise err.ORDER_DOES_NOT_EXIST.error()
        return self._shown(order)

    def open_one(self, call: Call) -> Any:
        """``GET /fapi/v1/openOrder``: "If the queried order has been filled or cancelled, the
        error message "Order does not exist" will be returned" (Query Current Open Order)."""
        order = self._find(call, algo=False, missing=err.ORDER_DOES_NOT_EXIST)
        if not order.status.is_open:
            raise err.ORDER_DOES_NOT_EXIST.error()
        return self._shown(order)

    def _forgotten(self, order: SimOrder) -> bool:
        """Whether the plain endpoints no longer find this order (`FORGET_UNFILLED_MS`):
        measured from its creation (a fired algo order's placed order: its firing) on the
        engine's clock. The 90-day rule is applied to finished orders only, since one still
        working has to stay cancellable."""
        if order.status.is_open:
            return False
        age = self._engine().clock() - (order.triggered_ms or order.created_ms)
        unfilled = order.filled_qty == 0 and order.status in (
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
        )
        return age > FORGET_ANY_MS or (unfilled and age > FORGET_UNFILLED_MS)

    def _plain_orders(self, call: Call, *, open_only: bool) -> list[SimOrder]:
        """Plain orders, and the orders fired algo orders placed, by their shown id."""
        market = call.market(self._engine(), required=not open_only)
        coin = market.coin if market is not None else None
        return sorted(
            (o for o in self._engine().orders.values()
             if o.account_id == call.account and (coin is None or o.spec.coin == coin)
             and (not o.spec.kind.is_trigger or o.placed_id is not None)
             and (o.status.is_open or not open_only) and not self._forgotten(o)),
            key=render.shown_order_id,
        )  # fmt: skip

    def open(self, call: Call) -> Any:
        return [self._shown(o) for o in self._plain_orders(call, open_only=True)]

    def all(self, call: Call) -> Any:
        orders = _window(
            self._plain_orders(call, open_only=False), call.params, "orderId",
            render.shown_order_id,
        )  # fmt: skip
        return [self._shown(o) for o in orders]

    def cancel_all(self, call: Call) -> Any:
        for order in self._plain_orders(call, open_only=True):
            self._engine().cancel_order(call.account, order.order_id)
        return CANCEL_ALL_DONE

    # ---------------------------------------------------------- algo orders
    def algo_new(self, call: Call) -> Any:
        order, market, _ = self._place(call, algo=True)
        return render.algo_order(market, order, self._extra(order), query=False)

    def algo_cancel(self, call: Call) -> Any:
        order = self._find(call, algo=True, missing=err.UNKNOWN_ORDER_SENT)
        if not (order.status.is_open and order.is_untriggered):
            raise err.UNKNOWN_ORDER_SENT.error()
        self._engine().cancel_order(call.account, order.order_id)
        return {"algoId": order.order_id, "clientAlgoId": order.spec.client_id, **_CODE_200}

    def algo_get(self, call: Call) -> Any:
        return self._shown_algo(self._find(call, algo=True, missing=err.ORDER_DOES_NOT_EXIST))

    def _algo_orders(self, call: Call, *, open_only: bool) -> list[SimOrder]:
        market = call.market(self._engine(), required=not open_only)
        coin = market.coin if market is not None else None
        return sorted(
            (o for o in self._engine().orders.values()
             if o.account_id == call.account and (coin is None or o.spec.coin == coin)
             and o.spec.kind.is_trigger
             and (not open_only or (o.status.is_open and o.is_untriggered))),
            key=lambda o: o.order_id,
        )  # fmt: skip

    def algo_open(self, call: Call) -> Any:
        return [self._shown_algo(o) for o in self._algo_orders(call, open_only=True)]

    def algo_all(self, call: Call) -> Any:
        orders = _window(
            self._algo_orders(call, open_only=False), call.params, "algoId", lambda o: o.order_id
        )
        return [self._shown_algo(o) for o in orders]

    def algo_cancel_all(self, call: Call) -> Any:
        for order in self._algo_orders(call, open_only=True):
            self._engine().cancel_order(call.account, order.order_id)
        return CANCEL_ALL_DONE


def _window(
    orders: list[SimOrder], params: Params, id_name: str, id_of: Callable[[SimOrder], int]
) -> list[SimOrder]:
    """``allOrders``-style paging: from an id or a time, else the newest ``limit``."""
    from_id = params.integer(id_name)
    start = params.integer("startTime")
    end = params.integer("endTime")
    limit = min(params.integer("limit") or 500, 1000)
    rows = [
        o for o in orders
        if (from_id is None or id_of(o) >= from_id)
        and (start is None or o.created_ms >= start) and (end is None or o.created_ms <= end)
    ]  # fmt: skip
    return rows[:limit] if (from_id is not None or start is not None) else rows[-limit:]
