"""Between a signal and its orders: gather the facts, size the order, run the risk checks.

1. The gate (confidence, age, allow-list) runs first, on the signal alone: a refused signal
   costs no exchange call.
2. The facts are read concurrently: ticker, balance and positions from the venue; trading
   state, recent order count and today's realised PnL from the store.
3. The stop-loss and take-profit are moved onto the venue's price grid towards the entry
   (`leg_prices.protective_prices`); the decision carries the prices to place
   (`Decision.stop_loss` / `take_profit`) and says what was rounded (`Decision.warnings`,
   and under ``"protective"`` in the sizing record and ``data``).
4. The opening quantity is sized (`sizing.size_order`, with the placed stop), and the whole
   move (closing part plus opening part) is evaluated by `risk.RiskEngine` as one order.

Every check that can be made before sending is made here, on every sizing path, so a bad
stop never costs an entry. A number too large to compute with (a quantize that would raise
``decimal.InvalidOperation``) is refused as ``out_of_range``, never raised.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradeexec import errors
from tradeexec.config import AppConfig, RiskConfig
from tradeexec.domain import (
    OrderRole,
    OrderSide,
    OrderType,
    SignalSource,
    TradingState,
    net_position,
    opposes,
)
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution.leg_prices import ProtectivePrices, protective_prices
from tradeexec.execution.planning import opening_quantity
from tradeexec.execution.risk import GateContext, RiskContext, RiskEngine, Verdict
from tradeexec.execution.risk_checks import Refusal, reduce_only_refusal
from tradeexec.execution.signals import Signal
from tradeexec.execution.sizing import size_order
from tradeexec.store.repository import Store

ZERO = Decimal(0)
OPERATOR_SOURCES = frozenset({SignalSource.API, SignalSource.CLI})


@dataclass(frozen=True)
class Decision:
    approved: bool
    reason_code: str | None = None
    detail: str = ""
    quantity: Decimal = ZERO  # the opening part, sized and rounded
    position: Decimal = ZERO  # the signed position before this signal
    closing: Decimal = ZERO  # the part that reduces the position first (reduce-only)
    sizing: dict[str, Any] | None = None
    min_confidence: float | None = None
    halt_account: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    # the protective legs to place after the entry, on the venue's grid (None: no leg)
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    warnings: tuple[str, ...] = ()  # e.g. "stop_loss 66150.123 rounded up to 66150.2 ..."

    @classmethod
    def refused(
        cls,
        why: Verdict | Refusal,
        config: RiskConfig,
        *,
        sizing: dict[str, Any] | None = None,
        position: Decimal = ZERO,
    ) -> Decision:
        """The refusal of the checks (a `Verdict`) or of one step (a `Refusal`: sizing, the
        reduce-only rule) as the pipeline's one pre-trade decision."""
        return cls(
            False,
            why.reason_code,
            why.detail,
            position=position,
            sizing=sizing,
            min_confidence=config.min_confidence,
            halt_account=why.halt,
            data=dict(why.data),
        )


@dataclass(frozen=True)
class Facts:
    mark: Decimal
    equity: Decimal
    positions: tuple[Any, ...]
    state: TradingState
    orders_last_minute: int
    daily_pnl: Decimal


class RiskGate:
    def __init__(self, config: AppConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self._day_start_equity: dict[tuple[str, str], Decimal] = {}

    def risk_config(self, account: str) -> RiskConfig:
        # a trader adopted into the manager without a config entry gets the defaults
        if account in self.config.accounts:
            return self.config.risk_for(account)
        return self.config.risk

    def _allowed(self, account: str) -> frozenset[str] | None:
        account_cfg = self.config.accounts.get(account)
        symbols = account_cfg.symbols if account_cfg else None
        return frozenset(symbols) if symbols else None

    async def decide(self, trader: ExchangeTrader, signal: Signal, symbol: str) -> Decision:
        config = self.risk_config(trader.account)
        engine = RiskEngine(config)
        now = datetime.now(UTC)
        gate = engine.gate(
            GateContext(
                signal=signal, now=now, symbol=symbol, allowed_symbols=self._allowed(trader.account)
            )
        )
        if not gate.approved:
            return Decision.refused(gate, config)
        facts = await self._facts(trader, symbol, now)
        position = net_position(facts.positions, symbol)
        try:
            return self._decide(trader, signal, symbol, config, engine, facts, position, now)
        except errors.RiskRejected as exc:  # a leg price with no valid value on its grid
            return Decision(
                False,
                exc.reason_code,
                exc.detail,
                position=position,
                min_confidence=config.min_confidence,
            )
        except ArithmeticError as exc:  # decimal.InvalidOperation on a number far too large
            return Decision(
                False,
                "out_of_range",
                f"a number in this order is out of range to compute with ({exc!r})",
                position=position,
                min_confidence=config.min_confidence,
            )

    def _decide(
        self,
        trader: ExchangeTrader,
        signal: Signal,
        symbol: str,
        config: RiskConfig,
        engine: RiskEngine,
        facts: Facts,
        position: Decimal,
        now: datetime,
    ) -> Decision:
        market = trader.market(symbol)
        protective = self._protective(trader, signal, symbol)
        sized = self._size(trader, signal, symbol, config, facts, position, protective.stop_loss)
        if isinstance(sized, Refusal):
            return Decision.refused(sized, config, position=position)
        side, opening, sizing = sized
        opening, closing = split_move(signal, side, opening, position)
        total = opening + closing
        if signal.reduce_only and total == 0:
            return Decision.refused(reduce_only_refusal(side, position), config, position=position)
        if total == 0:
            return Decision(
                True,
                quantity=ZERO,
                position=position,
                sizing=sizing,
                min_confidence=config.min_confidence,
                detail="nothing to do: already at the target",
            )
        if opening == 0:
            protective = ProtectivePrices()  # only closes: no leg is placed
        ctx = RiskContext(
            signal=signal,
            now=now,
            symbol=symbol,
            allowed_symbols=self._allowed(trader.account),
            side=side,
            quantity=total,
            market=market,
            mark_price=facts.mark,
            equity=facts.equity,
            start_of_day_equity=self._day_start(trader.account, facts.equity, now),
            positions=facts.positions,
            orders_last_minute=facts.orders_last_minute,
            daily_realized_pnl=facts.daily_pnl,
            trading_state=facts.state,
            leverage=signal.leverage or self._account_leverage(trader.account),
            fee_rate=trader.capabilities.taker_fee,
            operator_close=signal.is_close and signal.source in OPERATOR_SOURCES,
            round_price=lambda p: trader.price_to_precision(symbol, p),
            round_amount=lambda q: trader.amount_to_precision(symbol, q),
            stop_loss=protective.stop_loss,
            take_profit=protective.take_profit,
        )
        verdict = engine.evaluate(ctx)
        record = protective.to_record()
        if sizing is not None and (
            protective.stop_loss is not None or protective.take_profit is not None
        ):
            sizing = {**sizing, "protective": record}
        data = {**verdict.data, "protective": record} if protective.rounded else dict(verdict.data)
        if not verdict.approved:
            return replace(
                Decision.refused(verdict, config, sizing=sizing, position=position),
                data=data,
                warnings=protective.warnings,
            )
        return Decision(
            True,
            quantity=opening,
            position=position,
            closing=closing,
            sizing=sizing,
            min_confidence=config.min_confidence,
            data=data,
            stop_loss=protective.stop_loss,
            take_profit=protective.take_profit,
            warnings=protective.warnings,
        )

    def _protective(self, trader: ExchangeTrader, signal: Signal, symbol: str) -> ProtectivePrices:
        """The signal's stop and target on the venue's grid, rounded towards the entry."""
        direction = signal.direction
        if signal.reduce_only or direction is None:
            return ProtectivePrices()  # a close: the legs are not placed
        if signal.stop_loss is None and signal.take_profit is None:
            return ProtectivePrices()
        return protective_prices(
            direction,
            signal.stop_loss,
            signal.take_profit,
            market=trader.market(symbol),
            round_price=lambda p: trader.price_to_precision(symbol, p),
        )

    def _size(
        self,
        trader: ExchangeTrader,
        signal: Signal,
        symbol: str,
        config: RiskConfig,
        facts: Facts,
        position: Decimal,
        stop_loss: Decimal | None,
    ) -> tuple[OrderSide, Decimal, dict[str, Any] | None] | Refusal:
        target = signal.target_position
        if target is not None:
            delta = target - position
            side = OrderSide.BUY if delta > 0 else OrderSide.SELL
            if delta == 0:
                side = OrderSide.BUY if position <= 0 else OrderSide.SELL
        else:
            assert signal.side is not None
            side = signal.side
        if signal.reduce_only or signal.is_close:
            return side, ZERO, None
        explicit = opening_quantity(signal, position)
        if explicit is not None and explicit == 0:
            return side, ZERO, None
        entry = (
            signal.price if signal.order_type is OrderType.LIMIT and signal.price else facts.mark
        )
        sized = size_order(
            config,
            side=side,
            equity=facts.equity,
            entry_price=entry,
            market=trader.market(symbol),
            round_amount=lambda q: trader.amount_to_precision(symbol, q),
            stop_price=stop_loss,  # the one placed: the risk budget holds at it
            position_qty=ZERO if opposes(side, position) else position,
            quantity=explicit if explicit is not None else signal.quantity,
            notional=signal.notional,
            mode=signal.sizing_mode,
            fee_rate=trader.capabilities.taker_fee,
            confidence=signal.confidence,
            leverage=signal.leverage or self._account_leverage(trader.account),
        )
        if isinstance(sized, Refusal):
            return sized
        return side, sized.quantity, sized.to_record()

    def _account_leverage(self, account: str) -> int | None:
        account_cfg = self.config.accounts.get(account)
        return account_cfg.leverage if account_cfg else None

    def _day_start(self, account: str, equity: Decimal, now: datetime) -> Decimal:
        """Start-of-day equity as first seen today by this process (drawdown reference)."""
        key = (account, now.date().isoformat())
        return self._day_start_equity.setdefault(key, equity)

    async def _facts(self, trader: ExchangeTrader, symbol: str, now: datetime) -> Facts:
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        ticker, balances, positions, local = await asyncio.gather(
            trader.fetch_ticker(symbol),
            trader.fetch_balance(),
            trader.fetch_positions(),
            asyncio.to_thread(self._local_facts, trader.account, now, day_start),
        )
        mark = ticker.mark or ticker.reference_price
        if mark is None:
            raise errors.ExchangeUnavailable(f"no price for {symbol}", symbol=symbol)
        settle = trader.capabilities.settle_currency
        equity = balances[settle].total if settle in balances else ZERO
        state, recent, pnl = local
        return Facts(mark, equity, tuple(positions), state, recent, pnl)

    def _local_facts(
        self, account: str, now: datetime, day_start: datetime
    ) -> tuple[TradingState, int, Decimal]:
        state, _reason = self.store.get_trading_state(account)
        recent = self.store.count_orders_since(
            account, now - timedelta(seconds=60), roles=(OrderRole.ENTRY, OrderRole.CLOSE)
        )
        pnl = self.store.daily_realized_pnl(account, day_start)
        return TradingState(state), recent, pnl


def split_move(
    signal: Signal, side: OrderSide, opening: Decimal, position: Decimal
) -> tuple[Decimal, Decimal]:
    """(opening, closing) quantities of the whole move this signal asks for."""
    against = opposes(side, position)
    if signal.reduce_only or signal.is_close:
        return ZERO, (min(abs(position), signal.quantity or abs(position)) if against else ZERO)
    target = signal.target_position
    if target is not None and not against and abs(target) < abs(position):
        return ZERO, abs(target - position)  # same direction, smaller: a partial close
    if against and target is None and not signal.reverse and has_explicit_size(signal):
        # side + size is an order of that size: it reduces the opposite position first and
        # opens only what is left over ("sell 0.1" against a long 0.2 leaves a long 0.1)
        closing = min(opening, abs(position))
        return opening - closing, closing
    return opening, (abs(position) if against else ZERO)


def has_explicit_size(signal: Signal) -> bool:
    return signal.quantity is not None or signal.notional is not None
