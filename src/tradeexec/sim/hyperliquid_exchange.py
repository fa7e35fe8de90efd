"""``POST /exchange`` of the Hyperliquid face: who signed, may they act, and what happens.

Order of checks, as on the venue:

1. the signer is recovered from the signature (``Unable to recover signer.`` if none);
2. L1 actions: the signer must be an account or an API wallet (agent) an account approved
   (``L1 error: User or API Wallet 0x.. does not exist.``); it acts for that account, or for
   ``vaultAddress`` if that is a sub-account of it (``Vault not registered: 0x..``).
   User-signed actions: the signer is the user and must be an account (``Must deposit before
   performing actions. User: 0x..``; an agent key cannot approve agents or builder fees);
3. the nonce is admitted for the signer: inside (now - 2 days, now + 1 day), not used before,
   above the smallest of the signer's 100 highest; a business rejection after this point still
   uses the nonce up;
4. ``expiresAfter`` in the past: ``Action already expired``;
5. the action.

Orders: ``order`` with grouping ``na`` / ``normalTpsl`` (the trigger orders after the first
order are its TP/SL children, armed once it fills; when one child fills the others are
cancelled) / ``positionTpsl`` (reduce-only TP/SL on the position; size 0 closes it whole).
A ``builder`` field needs an approval of at least that fee for that builder, else the whole
action fails with ``Builder fee has not been approved.``; the builder fee is charged on fills.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradeexec.sim.accounting import MarginMode
from tradeexec.sim.engine import (
    Engine,
    OrderKind,
    OrderSpec,
    OrderStatus,
    Side,
    SimError,
    SimOrder,
    TimeInForce,
)
from tradeexec.sim.hl_signing import (
    SignatureError,
    chain_name,
    recover_l1_signer,
    recover_user_signer,
)
from tradeexec.sim.hyperliquid_state import HlState, NonceBook, OrderMeta, RejectedOrder
from tradeexec.sim.hyperliquid_wire import (
    Envelope,
    Msg,
    WireError,
    decimals_of,
    fmt,
    percent_to_tenths_bps,
    reject_message,
    reject_status,
)
from tradeexec.sim.markets import VENUES, MarketSpec
from tradeexec.sim.orders import TriggerSource

PRICE_BAND = Decimal("0.8")  # a limit price at most 80 % away from the mark
_TIF = {
    "Gtc": TimeInForce.GTC,
    "Ioc": TimeInForce.IOC,
    "FrontendMarket": TimeInForce.IOC,
    "Alo": TimeInForce.POST_ONLY,
}
_TRIGGER_KIND = {
    ("sl", True): OrderKind.STOP_MARKET,
    ("sl", False): OrderKind.STOP_LIMIT,
    ("tp", True): OrderKind.TAKE_PROFIT_MARKET,
    ("tp", False): OrderKind.TAKE_PROFIT_LIMIT,
}
_ORDER_TYPE_NAMES = {
    OrderKind.LIMIT: "Limit",
    OrderKind.STOP_MARKET: "Stop Market",
    OrderKind.STOP_LIMIT: "Stop Limit",
    OrderKind.TAKE_PROFIT_MARKET: "Take Profit Market",
    OrderKind.TAKE_PROFIT_LIMIT: "Take Profit Limit",
}


def ok(response: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"status": "ok", "response": response or {"type": "default"}}


def err(message: str) -> dict[str, Any]:
    return {"status": "err", "response": message}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sent an action: the recovered signer, the account it acts for, or why not."""

    signer: str | None
    account: str | None
    error: str | None = None


class ExchangeApi:
    def __init__(
        self,
        engine: Callable[[], Engine],
        state: Callable[[], HlState],
        clock: Callable[[], int],
        networks: Callable[[], tuple[bool, ...]],
        request_clock: Callable[[], int] | None = None,
    ) -> None:
        self._engine, self._state, self.clock, self._networks = engine, state, clock, networks
        # nonces and expiresAfter are the signer's clock: checked against the real time even
        # when /_sim/time has moved the simulator's clock ahead (`SimContext.request_now`)
        self.request_clock = request_clock or clock

    @property
    def engine(self) -> Engine:
        return self._engine()

    @property
    def state(self) -> HlState:
        return self._state()

    # ------------------------------------------------------------------ identity
    def identify(self, env: Envelope) -> Identity:
        """Recover the signer and resolve the account it acts for (no side effects).

        With more than one network served (``SimConfig.hl_network`` "both"), an L1 action is
        accepted if its signature recovers to an authorised signer under either phantom-agent
        source; when none does, the refusal names the signer recovered under the first network
        (mainnet for "both": what the live mainnet would answer to the same bytes).
        """
        networks = self._networks()
        if env.user_signed:
            if env.action.get("hyperliquidChain") not in {chain_name(n) for n in networks}:
                return Identity(None, None, Msg.WRONG_CHAIN)
            if env.action.get("nonce", env.action.get("time")) != env.nonce:
                return Identity(None, None, Msg.NONCE_MISMATCH)
            try:
                signer = recover_user_signer(env.action, env.signature)
            except SignatureError:
                return Identity(None, None, Msg.NO_SIGNER)
            if signer not in self.engine.accounts or signer in self.state.masters:
                return Identity(signer, None, Msg.MUST_DEPOSIT.format(address=signer))
            return Identity(signer, signer)
        refusal: Identity | None = None
        for is_mainnet in networks:
            try:
                signer = recover_l1_signer(
                    env.action,
                    env.nonce,
                    env.signature,
                    env.vault_address,
                    env.expires_after,
                    is_mainnet=is_mainnet,
                )
            except SignatureError:
                return Identity(None, None, Msg.NO_SIGNER)
            who = self._l1_identity(signer, env.vault_address)
            if who.error != Msg.USER_MISSING.format(address=signer):
                return who  # acts, or an authorised signer refused for another reason
            refusal = refusal or who
        assert refusal is not None  # HL_NETWORKS has no empty entry
        return refusal

    def _l1_identity(self, signer: str, vault_address: str | None) -> Identity:
        if signer in self.engine.accounts and signer not in self.state.masters:
            user = signer
        else:
            owner = self.state.agent_owner(signer)
            if owner is None:
                return Identity(signer, None, Msg.USER_MISSING.format(address=signer))
            user = owner
        if vault_address is not None:  # the account's own address is no vault either
            if self.state.masters.get(vault_address) != user:
                return Identity(signer, None, Msg.VAULT_UNKNOWN.format(address=vault_address))
            return Identity(signer, vault_address)
        return Identity(signer, user)

    # ------------------------------------------------------------------- actions
    def handle(self, env: Envelope, who: Identity) -> dict[str, Any]:
        if who.error is not None or who.account is None or who.signer is None:
            return err(who.error or Msg.NO_SIGNER)
        now = self.request_clock()
        book = self.state.nonces.setdefault(who.signer, NonceBook())
        refused = book.admit(env.nonce, now)
        if refused is not None:
            return err(refused)
        if env.expires_after is not None and env.expires_after < now:
            return err(Msg.EXPIRED)
        handler = getattr(self, f"_a_{env.type}", None)
        if handler is None:
            return err(Msg.UNSUPPORTED.format(type=env.type))
        result: dict[str, Any] = handler(who.account, env.action)
        return result

    def _market(self, asset: int) -> str | None:
        coins = list(self.engine.markets)
        return coins[asset] if 0 <= asset < len(coins) else None

    # ---- orders
    def _a_order(self, account: str, action: dict[str, Any]) -> dict[str, Any]:
        builder = action.get("builder")
        builder_fee: tuple[str, int] | None = None
        if builder is not None:
            approved = self.state.builder_approval(account, builder["b"])
            if approved is None or builder["f"] > approved:
                return err(Msg.BUILDER_NOT_APPROVED)
            builder_fee = (builder["b"], builder["f"])
        grouping = action["grouping"]
        statuses: list[Any] = []
        parent: SimOrder | None = None
        parent_error = "Parent order was not placed."
        for index, wire in enumerate(action["orders"]):
            is_trigger = "trigger" in wire["t"]
            if grouping == "normalTpsl" and index > 0 and is_trigger:
                if parent is None:
                    statuses.append({"error": parent_error})
                    continue
                status, child = self._place(account, wire, builder_fee, parent=parent)
                if child is not None:
                    self.state.meta[parent.order_id].children.append(child.order_id)
                    filled = parent.status is OrderStatus.FILLED
                    status = "waitingForTrigger" if filled else "waitingForFill"
                statuses.append(status)
                continue
            status, order = self._place(
                account, wire, builder_fee, position_tpsl=grouping == "positionTpsl"
            )
            if grouping == "normalTpsl" and index == 0:
                if order is not None and order.status in (OrderStatus.NEW, OrderStatus.FILLED):
                    parent = order
                elif isinstance(status, dict) and "error" in status:
                    parent_error = str(status["error"])
            statuses.append(status)
        return ok({"type": "order", "data": {"statuses": statuses}})

    def _place(
        self,
        account: str,
        wire: dict[str, Any],
        builder: tuple[str, int] | None,
        *,
        parent: SimOrder | None = None,
        position_tpsl: bool = False,
    ) -> tuple[Any, SimOrder | None]:
        engine, asset = self.engine, wire["a"]
        coin = self._market(asset)
        if coin is None:
            return {"error": Msg.BAD_ASSET.format(asset=asset)}, None
        market = engine.markets[coin]
        price, size = Decimal(wire["p"]), Decimal(wire["s"])
        trigger = wire["t"].get("trigger")
        trigger_px = Decimal(trigger["triggerPx"]) if trigger else None
        close_position = False
        if size == 0:
            if not (position_tpsl and trigger):
                return {"error": Msg.ZERO_SIZE}, None
            close_position = True
        if decimals_of(size) > (market.sz_decimals or 0):
            return {"error": Msg.BAD_SIZE}, None
        if trigger:
            kind = _TRIGGER_KIND[(trigger["tpsl"], trigger["isMarket"])]
            tif_name, tif = None, TimeInForce.GTC
        else:
            kind = OrderKind.LIMIT
            tif_name = wire["t"]["limit"]["tif"]
            tif = _TIF[tif_name]
            mark = engine.marks[coin]
            if abs(price - mark) > PRICE_BAND * mark:
                return {"error": Msg.PRICE_BAND}, None
            too_large = _value_cap_error(market, tif_name, size * price, asset)
            if too_large is not None:
                return {"error": too_large}, None
        spec = OrderSpec(
            coin=coin,
            side=Side.BUY if wire["b"] else Side.SELL,
            kind=kind,
            qty=size,
            price=price,
            trigger_price=trigger_px,
            tif=tif,
            reduce_only=wire["r"] or position_tpsl,
            close_position=close_position,
            client_id=wire.get("c"),
            parent_id=parent.order_id if parent is not None else None,
            # Hyperliquid triggers watch the mark price (its docs: Trading > "Take profit and
            # stop loss orders (TP/SL)"); there is no per-order choice as Binance's workingType
            trigger_on=TriggerSource.MARK,
        )
        try:
            order = engine.place_order(account, spec)
        except SimError as exc:
            bid, ask = engine.bid_ask(coin)
            self._remember_rejection(account, spec, tif_name, exc)
            return {"error": reject_message(exc.reason, asset, fmt(bid), fmt(ask))}, None
        self.state.meta[order.order_id] = OrderMeta(asset, tif_name, position_tpsl, builder)
        if spec.client_id is not None:
            self.state.rejected.pop((account, spec.client_id), None)
        ident: dict[str, Any] = {"oid": order.order_id}
        if spec.client_id is not None:
            ident["cloid"] = spec.client_id
        if order.status is OrderStatus.EXPIRED and order.expire_reason is not None:
            return {"error": reject_message(order.expire_reason, asset)}, order
        if trigger or order.status is OrderStatus.NEW:
            return {"resting": ident}, order
        filled = {"totalSz": fmt(order.filled_qty), "avgPx": fmt(order.avg_price)}
        return {"filled": {**filled, **ident}}, order

    def _remember_rejection(
        self, account: str, spec: OrderSpec, tif: str | None, exc: SimError
    ) -> None:
        status = reject_status(exc.reason)
        if status is None or spec.client_id is None:
            return
        self.state.rejected[(account, spec.client_id)] = RejectedOrder(
            oid=self.state.next_reject_oid(),
            account=account,
            cloid=spec.client_id,
            coin=spec.coin,
            is_buy=spec.side is Side.BUY,
            price=spec.price or Decimal(0),
            size=spec.qty,
            reduce_only=spec.reduce_only,
            order_type=_ORDER_TYPE_NAMES.get(spec.kind, "Limit"),
            tif=tif,
            trigger_px=spec.trigger_price,
            status=status,
            time_ms=self.clock(),
        )

    # ---- cancels
    def _cancel(self, account: str, asset: int, oid: int | None, cloid: str | None) -> Any:
        coin = self._market(asset)
        try:
            order = self.engine.get_order(account, oid, cloid)
            if order.spec.coin != coin:
                return {"error": Msg.NOT_OPEN.format(asset=asset)}
            self.engine.cancel_order(account, order.order_id)
        except SimError:
            return {"error": Msg.NOT_OPEN.format(asset=asset)}
        return "success"

    def _a_cancel(self, account: str, action: dict[str, Any]) -> dict[str, Any]:
        statuses = [self._cancel(account, c["a"], c["o"], None) for c in action["cancels"]]
        return ok({"type": "cancel", "data": {"statuses": statuses}})

    def _a_cancelByCloid(self, account: str, action: dict[str, Any]) -> dict[str, Any]:
        statuses = [self._cancel(account, c["asset"], None, c["cloid"]) for c in action["cancels"]]
        return ok({"type": "cancel", "data": {"statuses": statuses}})

    # ---- settings
    def _a_updateLeverage(self, account: str, action: dict[str, Any]) -> dict[str, Any]:
        coin = self._market(action["asset"])
        if coin is None:
            return err(Msg.BAD_ASSET.format(asset=action["asset"]))
        leverage = action["leverage"]
        if not 1 <= leverage <= self.engine.markets[coin].max_leverage:
            return err(Msg.BAD_LEVERAGE)
        mode = MarginMode.CROSS if action["isCross"] else MarginMode.ISOLATED
        if self.engine.margin_mode(account, coin) is not mode:
            try:
                self.engine.set_margin_mode(account, coin, mode)
            except SimError:
                return err(Msg.LEVERAGE_TYPE)
        if not self._margin_for_leverage(account, coin, leverage):
            cross = mode is MarginMode.CROSS
            return err(Msg.LEVERAGE_MARGIN_CROSS if cross else Msg.LEVERAGE_MARGIN_ISOLATED)
        self.engine.set_leverage(account, coin, leverage)
        return ok()

    def _margin_for_leverage(self, account: str, coin: str, leverage: int) -> bool:
        """Lowering the leverage of an open position raises its initial margin: the account
        must have that much more available."""
        engine = self.engine
        notional = sum(
            (abs(p.qty) * engine.marks[coin] for p in engine.positions(account) if p.coin == coin),
            Decimal(0),
        )
        extra = notional / leverage - notional / engine.leverage(account, coin)
        return extra <= 0 or extra <= engine.summary(account).available

    def _a_setReferrer(self, account: str, action: dict[str, Any]) -> dict[str, Any]:
        if account in self.state.referrers:
            return err(Msg.REFERRER_SET)
        self.state.referrers[account] = action["code"]
        return ok()

    def _a_approveAgent(self, account: str, action: dict[str, Any]) -> dict[str, Any]:
        self.state.approve_agent(account, action["agentAddress"], action.get("agentName") or "")
        return ok()

    def _a_approveBuilderFee(self, account: str, action: dict[str, Any]) -> dict[str, Any]:
        try:
            tenths = percent_to_tenths_bps(action["maxFeeRate"])
        except (WireError, ArithmeticError):
            return err(f"Invalid max fee rate: {action['maxFeeRate']}")
        self.state.builders.setdefault(account, {})[action["builder"]] = tenths
        return ok()


def _value_cap_error(market: MarketSpec, tif: str, value: Decimal, asset: int) -> str | None:
    """Hyperliquid caps one order's value by the market's max leverage ("Contract
    specifications"): market orders (IOC; ccxt sends market orders as IOC limits) at the
    documented maximum, other limit orders at ten times it."""
    cap = VENUES["hyperliquid"].market_order_cap(market)
    if cap is None:
        return None
    market_order = tif in ("Ioc", "FrontendMarket")
    limit = cap if market_order else cap * 10
    if value <= limit:
        return None
    return Msg.ORDER_VALUE.format(kind="market" if market_order else "limit",
                                  cap=f"{limit:,.0f}", asset=asset)  # fmt: skip
