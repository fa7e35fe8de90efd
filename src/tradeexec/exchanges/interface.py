"""The exchange contract every venue implements, and the data that says how venues differ.

`ExchangeTrader` is small on purpose: what the execution pipeline needs, nothing more.
Venue quirks are `Capabilities` values read by generic code, never ``if exchange == ...``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from tradeexec import errors
from tradeexec.domain import (
    Balance,
    Fill,
    MarginMode,
    Market,
    Order,
    OrderRequest,
    OrderType,
    Position,
    Ticker,
)
from tradeexec.exchanges.backoff import RateLimitRules

ClientIdFormat = Literal["binance", "hyperliquid", "generic"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """How a venue behaves, as data. Read by the pipeline, brackets and the conformance suite."""

    venue: str  # "binance", "hyperliquid", "paper", or a ccxt id
    settle_currency: str
    order_types: frozenset[OrderType] = frozenset({OrderType.MARKET, OrderType.LIMIT})
    # TP/SL: standalone reduce-only trigger orders, and/or attached to the entry order.
    # tradeexec places standalone legs only: each leg then has its own client order id,
    # which reconciliation needs (ccxt gives Hyperliquid's attached legs the entry's id).
    standalone_tpsl: bool = False
    attached_tpsl: bool = False
    market_order_needs_price: bool = False  # Hyperliquid: market = IOC limit with a price cap
    hedge_mode: bool = False
    post_only: bool = True
    client_id_format: ClientIdFormat = "generic"
    fetch_by_client_id: bool = True
    # cancelling a trigger order needs to say so (Binance: algo orders live apart)
    cancel_trigger_needs_flag: bool = False
    # the venue itself cancels the other leg of a TP/SL pair when one fires (none of ours do)
    cancels_sibling_on_trigger: bool = False
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    min_notional: Decimal | None = None
    # the venue's rate limits and request weights (`backoff`): tradeexec paces itself under
    # them and honours Retry-After; None: nothing but ccxt's own limiter
    rate_limits: RateLimitRules | None = None

    @property
    def supports_tpsl(self) -> bool:
        return self.standalone_tpsl or self.attached_tpsl


@dataclass(frozen=True, slots=True)
class Health:
    """An account's health: ``code`` is the error's reason code (``authentication_failed``,
    ``exchange_unavailable``...), ``credentials`` what became of them (``accepted``,
    ``refused``, ``not checked``, ``none (market data only)``)."""

    ok: bool
    venue: str
    latency_ms: float | None = None
    error: str | None = None
    code: str | None = None
    credentials: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "venue": self.venue,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "code": self.code,
            "credentials": self.credentials,
        }


class RequestWithheld(Exception):
    """A trader's ``send_gate`` kept a request from leaving the process: it was not sent.
    Not a `TradeExecError`: nothing about the order is known from it, so it is not recorded
    as a refusal; it passes through the trader unchanged (see `ccxt_errors.translate`)."""


class ExchangeTrader(ABC):
    """One account on one venue. All methods are async except the pure market helpers.

    Errors are `tradeexec.errors` classes, never a third party's. Reads are retried on
    network errors; creates and cancels are never resent: an unknown outcome is resolved by
    asking the venue for the client order id, or raised as `OrderOutcomeUnknown`.
    """

    capabilities: Capabilities
    account: str
    #: called right before a request that may change something on the venue (an order, a
    #: cancel) leaves the process, after any read it needed first and any wait for the rate
    #: limits (ccxt traders: `ccxt_requests`); it raises `RequestWithheld` (a replica's
    #: `LeaseLost`) to keep the request from being sent. None: no gate
    send_gate: Callable[[], None] | None = None

    # -------------------------------------------------------------- lifecycle
    @abstractmethod
    async def connect(self) -> None:
        """Load markets (from the cache when fresh) and apply account settings."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def load_markets(self, reload: bool = False) -> dict[str, Market]: ...

    @abstractmethod
    async def health_check(self) -> Health:
        """Is the venue reachable? (public; `verify_credentials` checks the keys)"""

    async def verify_credentials(self) -> None:
        """Prove the configured credentials work with one private read (the balance);
        raises the venue's refusal (``AuthenticationError`` for wrong keys). A venue whose
        balance read is not signed overrides this with a check that is."""
        await self.fetch_balance()

    # ------------------------------------------------------------ markets
    @abstractmethod
    def resolve_symbol(self, symbol: str) -> str:
        """``BTCUSDT``, ``BTC/USDT``, ``BTCUSDT.P``, ``BTC`` ... -> this venue's symbol."""

    @abstractmethod
    def market(self, symbol: str) -> Market: ...

    @abstractmethod
    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        """Round an amount DOWN to what the venue accepts (its own precision rules)."""

    @abstractmethod
    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal:
        """Round a price to the nearest value the venue accepts."""

    # --------------------------------------------------------------- reads
    @abstractmethod
    async def fetch_ticker(self, symbol: str) -> Ticker: ...

    @abstractmethod
    async def fetch_balance(self) -> dict[str, Balance]: ...

    @abstractmethod
    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]: ...

    @abstractmethod
    async def fetch_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order: ...

    @abstractmethod
    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]: ...

    @abstractmethod
    async def fetch_my_trades(self, symbol: str, since: int | None = None) -> list[Fill]: ...

    # -------------------------------------------------------------- writes
    @abstractmethod
    async def create_order(self, request: OrderRequest) -> Order: ...

    @abstractmethod
    async def cancel_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order | None:
        """Cancel; an order already gone (filled, cancelled, unknown) is success (None)."""

    @abstractmethod
    async def set_leverage(
        self, symbol: str, leverage: int, margin_mode: MarginMode | None = None
    ) -> None: ...

    # ------------------------------------------------------------- helpers
    def equity_currency(self) -> str:
        return self.capabilities.settle_currency


def refuse_attached_brackets(request: OrderRequest, venue: str) -> None:
    """Never drop a stop silently: brackets are separate reduce-only trigger orders, placed
    by `execution.brackets` (see `Capabilities.attached_tpsl` for why none are attached)."""
    if request.stop_loss is not None or request.take_profit is not None:
        raise errors.NotSupported(
            "stop_loss / take_profit on an OrderRequest are not sent; place them as reduce-only"
            " trigger orders (TradingService does this)",
            exchange=venue,
            symbol=request.symbol,
        )
