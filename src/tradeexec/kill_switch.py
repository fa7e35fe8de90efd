"""The kill switch, in tiers - one mapping from a tier to what happens, for every surface.

==================  ===========================================================================
tier                what it does
==================  ===========================================================================
``pause_entries``   REDUCING: no new exposure; exits, reducing orders and cancels pass; resting
                    orders stay
``halt``            HALTED: every order refused except cancels and operator closes
``close_only``      HALTED, and every open order cancelled
``flatten``         HALTED, every open order cancelled and every position closed
==================  ===========================================================================

Every target account moves to its state durably *first*, in one commit, before any venue is
touched; then each account's cancels and flattens run concurrently, each failure reported for
its account (``complete: False`` with ``failures``) and recorded as a ``kill_switch`` event.
What could not be done is redone by `finish` - the next reconcile pass while the account stays
HALTED - and by the next ``halt``.

With several replicas (`replica.py`) the state is shared, so a halt on any replica stops
every replica's orders at once; the cancels and flattens are the lease holder's, like every
order for the account: another replica records the kill switch as not complete
(``owner_executes``) and wakes the owner, whose `finish` does them. A cancel checks the lease
right before it is sent, as a send does, so an owner paused past its lease cancels nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tradeexec import errors
from tradeexec.domain import Order, TradingState
from tradeexec.exchanges.factory import ExchangeManager
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution.account_state import Mover
from tradeexec.execution.lease import LeaseLost
from tradeexec.execution.pipeline import Pipeline
from tradeexec.execution.report import ExecutionReport

__all__ = ["KILL_SWITCH_TIERS", "KillSwitch"]

KILL_SWITCH_TIERS = ("pause_entries", "halt", "close_only", "flatten")
OWNER = "another replica holds this account's lease: it cancels and flattens (woken now)"

Closer = Callable[..., Awaitable[ExecutionReport]]  # close_position(symbol, account=...)


class KillSwitch:
    def __init__(self, manager: ExchangeManager, pipeline: Pipeline, close: Closer) -> None:
        self.manager, self.pipeline, self.close = manager, pipeline, close

    async def engage(
        self, tier: str, account: str | None = None, *, reason: str = "kill switch"
    ) -> dict[str, Any]:
        if tier not in KILL_SWITCH_TIERS:
            raise errors.InvalidSignal(
                f"unknown kill-switch tier {tier!r}; one of {', '.join(KILL_SWITCH_TIERS)}"
            )
        if tier == "pause_entries":
            return await self.pause_entries(account, reason=reason)
        return await self.halt(
            account,
            reason=reason,
            cancel_orders=tier in ("close_only", "flatten"),
            flatten=tier == "flatten",
        )

    def _names(self, account: str | None) -> list[str]:
        return [account] if account else self.manager.names

    async def pause_entries(
        self, account: str | None = None, *, reason: str = "entries paused"
    ) -> dict[str, Any]:
        names = self._names(account)
        states = self.pipeline.states
        await self.pipeline.write(
            *(states.step(n, TradingState.REDUCING, Mover.OPERATOR, reason) for n in names)
        )
        return {n: {"state": TradingState.REDUCING.value, "complete": True} for n in names}

    async def halt(
        self,
        account: str | None = None,
        *,
        reason: str = "kill switch",
        cancel_orders: bool = False,
        flatten: bool = False,
    ) -> dict[str, Any]:
        names = self._names(account)
        states = self.pipeline.states
        await self.pipeline.write(
            *(
                states.step(
                    name,
                    TradingState.HALTED,
                    Mover.OPERATOR,
                    reason,
                    cancel_orders=cancel_orders,
                    flatten=flatten,
                )
                for name in names
            )
        )
        done = await asyncio.gather(*(self._work(name, cancel_orders, flatten) for name in names))
        return dict(zip(names, done, strict=True))

    async def finish(self, account: str) -> dict[str, Any] | None:
        """While HALTED, redo what the last kill switch could not do (None: nothing to redo)."""
        store = self.pipeline.store
        state, _ = await self.pipeline.db(store.get_trading_state, account)
        if TradingState(state) is not TradingState.HALTED:
            return None
        last = await self.pipeline.db(store.events, None, account, kind="kill_switch", limit=1)
        if not last or last[-1].data.get("complete", True):
            return None
        data = last[-1].data
        return await self._work(account, bool(data.get("cancel_orders")), bool(data.get("flatten")))

    async def _work(self, name: str, cancel_orders: bool, flatten: bool) -> dict[str, Any]:
        """One account's cancels and flattens; every failure is kept, none stops the rest."""
        out: dict[str, Any] = {
            "state": TradingState.HALTED.value,
            "cancelled": [],
            "flattened": [],
            "failures": [],
            "complete": True,
        }
        if not (cancel_orders or flatten):
            return out
        failures: list[dict[str, Any]] = out["failures"]
        if not self.pipeline.lease.owns(name):
            # another replica holds the account: the state above halts it everywhere, and
            # its owner does the cancels and flattens (`finish`, woken at once below)
            out["owner_executes"] = True
            failures.append({"step": "lease", "code": "owner_executes", "message": OWNER})
        else:
            try:
                trader = await self.manager.get(name)
                open_orders = await trader.fetch_open_orders()
            except errors.TradeExecError as exc:
                failures.append({"step": "connect", **exc.to_dict()})
            else:
                await self._cancel_all(trader, open_orders, out)
                if flatten and not any(f.get("code") == "lease_lost" for f in failures):
                    await self._flatten_all(trader, out)
        out["complete"] = not failures
        await self.pipeline.event(
            "kill_switch",
            name,
            cancel_orders=cancel_orders,
            flatten=flatten,
            complete=out["complete"],
            failures=failures,
        )
        if out.get("owner_executes"):
            await self.pipeline.db(self.pipeline.store.wake_owner, name)
        return out

    async def _cancel_all(
        self, trader: ExchangeTrader, open_orders: list[Order], out: dict[str, Any]
    ) -> None:
        """Cancel every open order, fenced by the account's lease (`Journal.cancel`): an owner
        paused past its lease stops at the first cancel and leaves the rest to the new owner."""
        for order in open_orders:
            try:
                await self.pipeline.cancel(trader, order.symbol, order.id, None)
                out["cancelled"].append(order.id)
            except LeaseLost as exc:
                out["failures"].append(
                    {"step": "cancel", "code": "lease_lost", "message": str(exc)}
                )
                return
            except errors.TradeExecError as exc:
                out["failures"].append({"step": "cancel", "order_id": order.id, **exc.to_dict()})

    async def _flatten_all(self, trader: ExchangeTrader, out: dict[str, Any]) -> None:
        try:
            positions = await trader.fetch_positions()
        except errors.TradeExecError as exc:
            out["failures"].append({"step": "positions", **exc.to_dict()})
            return
        for position in positions:
            report = await self.close(position.symbol, account=trader.account)
            out["flattened"].append(report.to_dict())
            if report.status != "filled":
                out["failures"].append(
                    {"step": "flatten", "symbol": position.symbol, "reason": report.reason}
                )
