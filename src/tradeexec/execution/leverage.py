"""Leverage set on the venue once per account, symbol, value and margin mode."""

from __future__ import annotations

from tradeexec.exchanges.factory import ExchangeManager
from tradeexec.exchanges.interface import ExchangeTrader


class LeverageOnce:
    """The signal's leverage, else the account's configured one (with its margin mode), set
    once per symbol and value: the venue keeps it, so it is not re-sent with each order."""

    def __init__(self, manager: ExchangeManager) -> None:
        self.manager = manager
        self._applied: set[tuple[str, str, int, str | None]] = set()

    async def apply(self, trader: ExchangeTrader, symbol: str, requested: int | None) -> None:
        account_cfg = self.manager.config.accounts.get(trader.account)
        leverage = requested or (account_cfg.leverage if account_cfg else None)
        if leverage is None:
            return
        mode = account_cfg.margin_mode if account_cfg else None
        key = (trader.account, symbol, leverage, mode.value if mode else None)
        if key not in self._applied:
            await trader.set_leverage(symbol, leverage, mode)
            self._applied.add(key)


__all__ = ["LeverageOnce"]
