"""What the Hyperliquid face knows beyond the engine: keys, agents, approvals, nonces, order meta.

The engine models orders and money; Hyperliquid adds a layer around them that the face keeps
here: API-wallet (agent) approvals, sub-accounts, builder-fee approvals, referrers, used nonces
per signer, the wire details of each order (asset index, tif, builder, TP/SL children) and the
orders Hyperliquid remembers although they were rejected (``minTradeNtlRejected`` ...).

`HlState.sync` settles what happened inside the engine since the last request (fills can come
from `Engine.set_mark` at any time): builder fees are charged on fills of builder-tagged orders,
and when one TP/SL child of a ``normalTpsl`` group fills its siblings are cancelled
(``siblingFilledCanceled``), as on the venue.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from tradeexec.sim.accounting import ZERO, settle
from tradeexec.sim.engine import Engine, SimError
from tradeexec.sim.hyperliquid_wire import Msg

DAY_MS = 86_400_000
NONCE_WINDOW_BEFORE_MS = 2 * DAY_MS  # Hyperliquid: nonce must lie in (now - 2 days, now + 1 day)
NONCE_WINDOW_AFTER_MS = DAY_MS
NONCE_HIGH_SET = 100  # and be above the smallest of the signer's 100 highest nonces
BUILDER_FEE_UNIT = Decimal(100_000)  # builder fee ``f`` is in tenths of a basis point


@dataclass
class NonceBook:
    """The nonces one signer has used."""

    seen: set[int] = field(default_factory=set)
    highest: list[int] = field(default_factory=list)  # ascending, at most NONCE_HIGH_SET

    def admit(self, nonce: int, now_ms: int) -> str | None:
        """Record ``nonce`` or return Hyperliquid's reason for refusing it."""
        low, high = now_ms - NONCE_WINDOW_BEFORE_MS, now_ms + NONCE_WINDOW_AFTER_MS
        if nonce <= low:
            return Msg.NONCE_LOW.format(nonce=nonce, bound=low)
        if nonce >= high:
            return Msg.NONCE_HIGH.format(nonce=nonce, bound=high)
        if nonce in self.seen:
            return Msg.NONCE_DUPLICATE.format(nonce=nonce)
        if len(self.highest) >= NONCE_HIGH_SET and nonce <= self.highest[0]:
            return Msg.NONCE_LOW.format(nonce=nonce, bound=self.highest[0])
        self.seen.add(nonce)
        bisect.insort(self.highest, nonce)
        if len(self.highest) > NONCE_HIGH_SET:
            self.highest.pop(0)
        return None


@dataclass(frozen=True, slots=True)
class AgentRecord:
    address: str
    name: str  # "" for the unnamed agent
    valid_until: int | None = None


@dataclass(slots=True)
class OrderMeta:
    """Wire facts about an engine order that the engine does not keep."""

    asset: int
    tif: str | None  # "Gtc" | "Ioc" | "Alo" | "FrontendMarket"; None for triggers
    position_tpsl: bool = False
    builder: tuple[str, int] | None = None
    children: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RejectedOrder:
    """An order Hyperliquid refused but still reports by cloid (status ``...Rejected``)."""

    oid: int
    account: str
    cloid: str
    coin: str
    is_buy: bool
    price: Decimal
    size: Decimal
    reduce_only: bool
    order_type: str
    tif: str | None
    trigger_px: Decimal | None
    status: str
    time_ms: int


class HlState:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # account -> private key (accounts made by create_account)
        self.masters: dict[str, str] = {}  # sub-account -> master
        self.agents: dict[str, dict[str, AgentRecord]] = {}  # master -> agent name -> record
        self.builders: dict[str, dict[str, int]] = {}  # account -> builder -> max fee (0.1 bp)
        self.referrers: dict[str, str] = {}  # account -> referral code
        self.nonces: dict[str, NonceBook] = {}  # signer -> used nonces
        self.meta: dict[int, OrderMeta] = {}  # engine order id -> wire facts
        self.status: dict[int, str] = {}  # engine order id -> status the engine cannot express
        self.rejected: dict[tuple[str, str], RejectedOrder] = {}  # (account, cloid)
        self.builder_fees: dict[int, Decimal] = {}  # trade id -> builder fee charged
        self.fill_cursor = 0
        self._reject_ids = itertools.count(9_000_000_001)

    def next_reject_oid(self) -> int:
        return next(self._reject_ids)

    def agent_owner(self, address: str) -> str | None:
        for master, records in self.agents.items():
            if any(r.address == address for r in records.values()):
                return master
        return None

    def approve_agent(self, master: str, address: str, name: str) -> None:
        records = self.agents.setdefault(master, {})
        for key in [k for k, r in records.items() if r.address == address]:
            del records[key]
        records[name] = AgentRecord(address, name)

    def builder_approval(self, account: str, builder: str) -> int | None:
        """The max fee ``account`` approved for ``builder`` (its master's approval counts)."""
        for who in (account, self.masters.get(account)):
            if who is not None and builder in self.builders.get(who, {}):
                return self.builders[who][builder]
        return None

    # ------------------------------------------------------------------ engine sync
    def sync(self, engine: Engine) -> None:
        if self.fill_cursor > len(engine.fills):  # a fresh engine
            self.fill_cursor = 0
        for fill in engine.fills[self.fill_cursor :]:
            meta = self.meta.get(fill.order_id)
            if meta is not None and meta.builder is not None and meta.builder[1] > 0:
                fee = settle(fill.qty * fill.price * Decimal(meta.builder[1]) / BUILDER_FEE_UNIT)
                engine.account(fill.account_id).book_fill(ZERO, fee)
                self.builder_fees[fill.trade_id] = fee
        self.fill_cursor = len(engine.fills)
        for meta in self.meta.values():
            if not meta.children:
                continue
            kids = [engine.orders[c] for c in meta.children if c in engine.orders]
            if not any(k.filled_qty > 0 for k in kids):
                continue
            for kid in kids:
                if kid.status.is_open:
                    try:
                        engine.cancel_order(kid.account_id, kid.order_id)
                    except SimError:
                        continue
                    self.status[kid.order_id] = "siblingFilledCanceled"
