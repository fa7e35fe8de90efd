"""Fills and position snapshots (realised PnL is read from the fills)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import aliased

from tradeexec.store.base import (
    _FILLS,
    _POSITIONS,
    StoreBase,
    _aware,
    _decimal,
    _decimal_or_none,
    _fills,
    _insert,
    _record,
    _text,
)
from tradeexec.store.models import (
    PositionSnapshotRow,
)
from tradeexec.store.records import (
    FillRecord,
    PositionSnapshotRecord,
)

_INSERT_FILL = insert(_FILLS)
_FILL_ID_BY_TRADE = select(_FILLS.c.id).where(
    _FILLS.c.account == bindparam("b_account"),
    _FILLS.c.exchange_trade_id == bindparam("b_trade_id"),
)
_PNL_AND_FEES_SINCE = select(_FILLS.c.realized_pnl, _FILLS.c.fee).where(
    _FILLS.c.account == bindparam("b_account"), _FILLS.c.at >= bindparam("b_since")
)
_INSERT_POSITION = insert(_POSITIONS)


class FillStore(StoreBase):
    def record_fill(
        self,
        *,
        account: str,
        symbol: str,
        exchange_trade_id: str,
        side: str,
        quantity: Decimal,
        price: Decimal,
        order_id: int | None = None,
        fee: Decimal | None = None,
        fee_currency: str | None = None,
        realized_pnl: Decimal | None = None,
        at: datetime | None = None,
    ) -> bool:
        """Record a fill; False (and nothing written) if this trade id is already recorded."""
        values = {
            "order_id": order_id,
            "account": account,
            "symbol": symbol,
            "exchange_trade_id": exchange_trade_id,
            "side": _text(side),
            "quantity": _decimal(quantity, "quantity"),
            "price": _decimal(price, "price"),
            "fee": _decimal_or_none(fee, "fee"),
            "fee_currency": fee_currency,
            "realized_pnl": _decimal_or_none(realized_pnl, "realized_pnl"),
            "at": _aware(at, "at"),
        }
        key = {"b_account": account, "b_trade_id": exchange_trade_id}
        _, created = self._insert_once(_INSERT_FILL, values, _FILL_ID_BY_TRADE, key)
        return created

    def fills_for_order(self, order_id: int) -> list[FillRecord]:
        """The order's fills, oldest first."""
        with self._reading() as session:
            return [_record(FillRecord, r) for r in _fills(session, [order_id])]

    def daily_realized_pnl(self, account: str, day_start_utc: datetime) -> Decimal:
        """Realized PnL minus fees of the account's fills at or after `day_start_utc`.

        Fees are assumed to be in the PnL currency (USDT on Binance USD-M, USDC on
        Hyperliquid); a fee paid in another asset (BNB) would need converting first.
        """
        params = {"b_account": account, "b_since": _aware(day_start_utc, "day_start_utc")}
        total = Decimal(0)
        with self._querying() as connection:
            for pnl, fee in connection.execute(_PNL_AND_FEES_SINCE, params):
                total += (pnl or Decimal(0)) - (fee or Decimal(0))
        return total

    def record_position_snapshot(
        self,
        *,
        account: str,
        symbol: str,
        quantity: Decimal,
        entry_price: Decimal | None = None,
        mark_price: Decimal | None = None,
        unrealized_pnl: Decimal | None = None,
        at: datetime | None = None,
    ) -> int:
        """Record a position as seen now; `quantity` is signed (negative is short)."""
        values = {
            "account": account,
            "symbol": symbol,
            "quantity": _decimal(quantity, "quantity"),
            "entry_price": _decimal_or_none(entry_price, "entry_price"),
            "mark_price": _decimal_or_none(mark_price, "mark_price"),
            "unrealized_pnl": _decimal_or_none(unrealized_pnl, "unrealized_pnl"),
            "at": _aware(at, "at"),
        }
        with self._writing() as connection:
            return _insert(connection, _INSERT_POSITION, values)

    def latest_positions(
        self, account: str, *, include_flat: bool = False
    ) -> list[PositionSnapshotRecord]:
        """The newest snapshot per symbol (by `at`), sorted by symbol; flat ones on request."""
        ranked = (
            select(
                PositionSnapshotRow,
                func.row_number()
                .over(
                    partition_by=PositionSnapshotRow.symbol,
                    order_by=(PositionSnapshotRow.at.desc(), PositionSnapshotRow.id.desc()),
                )
                .label("rank"),
            )
            .where(PositionSnapshotRow.account == account)
            .subquery()
        )
        latest = aliased(PositionSnapshotRow, ranked)
        stmt = select(latest).where(ranked.c.rank == 1).order_by(latest.symbol)
        with self._reading() as session:
            records = [_record(PositionSnapshotRecord, r) for r in session.scalars(stmt)]
        return [r for r in records if include_flat or r.quantity != 0]
