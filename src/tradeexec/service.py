"""TradingService: the one facade every surface calls (webhook, REST, MCP, CLI, Python).

The rules (confidence gate, risk limits, kill switch, idempotency) live behind it, so no
surface can bypass them by choosing another door.

    service = TradingService.from_config()          # config/exchange.yaml, env, or paper
    await service.start()                           # migrate store, reconcile, start loop
    report = await service.submit_signal(signal)    # ExecutionReport
    await service.halt("binance-main", reason="...", cancel_orders=True, flatten=True)
    await service.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from tradeexec import errors
from tradeexec.config import AppConfig, load_config
from tradeexec.domain import Balance, MarginMode, Order, Position, SignalSource, TradingState
from tradeexec.exchanges.factory import ExchangeManager
from tradeexec.execution.account_state import Mover
from tradeexec.execution.pipeline import Accepted, Pipeline
from tradeexec.execution.preview import Preview, preview_signal
from tradeexec.execution.reconcile import Reconciler, ReconcileReport
from tradeexec.execution.reconcile import _stop_cover as stop_cover
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.riskgate import RiskGate
from tradeexec.execution.signals import Signal, new_idempotency_key
from tradeexec.kill_switch import KillSwitch
from tradeexec.signal_state import NON_TERMINAL, SignalStatus
from tradeexec.store import queries
from tradeexec.store.records import SignalRecord
from tradeexec.store.repository import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StateView:
    account: str
    state: TradingState
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account, "state": self.state.value, "reason": self.reason}


class TradingService:
    def __init__(
        self,
        config: AppConfig,
        *,
        store: Store | None = None,
        manager: ExchangeManager | None = None,
        reconcile_interval_s: float = 0.0,
    ) -> None:
        self.config = config
        self._owns_store = store is None  # a store handed in is the caller's to close
        self.store = store or Store.from_url(config.store_url)
        self.manager = manager or ExchangeManager(config, store_engine=self.store.engine)
        self.gate = RiskGate(config, self.store)
        self.pipeline = Pipeline(self.manager, self.store, self.gate)
        self.records = self.pipeline.records  # the store's typed async front
        self.reconciler = Reconciler(self.pipeline)
        self.reconcile_interval_s = reconcile_interval_s
        self.retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)
        self._kill = KillSwitch(self.manager, self.pipeline, self.close_position)
        self.last_start: dict[str, Any] = {}
        self._loop_task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, path: str | None = None, **kwargs: Any) -> TradingService:
        return cls(load_config(path), **kwargs)

    # -------------------------------------------------------------- lifecycle
    async def start(self, *, reconcile: bool = True) -> dict[str, Any]:
        """Reconcile every account (resuming signals a crash left unfinished), then start the
        interval loop. Returns each account's result: its report, or the error that stopped it.

        Accounts are reconciled concurrently and independently: one venue down does not stop
        the others; a failing account is retried with backoff here, then by the loop (when an
        interval is set) or the next ``reconcile``. Not only accounts with orders in flight: a
        crash after an entry was recorded as filled and before its stop was sent leaves nothing
        in flight and an unprotected position."""
        results: dict[str, Any] = {}
        if reconcile:
            names = [name for name in self.manager.names if await self._has_records(name)]
            outcomes = await asyncio.gather(*(self._reconcile_with_retries(n) for n in names))
            results = dict(zip(names, outcomes, strict=True))
        self.last_start = results
        if self.reconcile_interval_s > 0 and self._loop_task is None:
            self._loop_task = asyncio.create_task(self._reconcile_forever())
        return results

    async def _has_records(self, account: str) -> bool:
        if await self.records.list_orders(account, None, 1):
            return True
        unfinished = [s.value for s in NON_TERMINAL]
        return bool(await self.records.unfinished_signals(unfinished, account, 1))

    async def _reconcile_with_retries(self, account: str) -> Any:
        """One account's reconcile, retried on transient errors; the report, or the error."""
        error: errors.TradeExecError | None = None
        last: Any = None
        for delay in (0.0, *self.retry_delays):
            if delay:
                await asyncio.sleep(delay)
            try:
                report = await self.reconcile(account)
            except errors.TradeExecError as exc:
                error = exc
                if not errors.is_retryable_read(exc):
                    break
                continue
            if not report.incomplete:
                return report
            error = None
            last = report
        if error is None:
            return last
        log.warning("start-up reconcile of %s failed: %s", account, error)
        await self.pipeline.event("reconcile_failed", account, error=error.to_dict())
        return error

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        await self.pipeline.close()
        await self.manager.close_all()
        if self._owns_store:
            self.store.close()

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_interval_s)
            names = [name for name in self.manager.names if await self._has_records(name)]
            await asyncio.gather(*(self._reconcile_quietly(name) for name in names))

    async def _reconcile_quietly(self, account: str) -> None:
        try:
            await self.reconcile(account)
        except errors.TradeExecError as exc:  # keep the loop alive; say why
            log.warning("reconcile %s failed: %s", account, exc)
        except Exception:  # a bug must not end reconciliation for good either
            log.exception("reconcile %s failed unexpectedly", account)

    async def reconcile(self, account: str | None = None) -> ReconcileReport:
        name = account or self.manager.default_name()
        report = await self.reconciler.run(name)
        finished = await self._kill.finish(name)
        if finished is not None and not finished["complete"]:
            report.failures += [f"kill switch: {f}" for f in finished["failures"]]
        return report

    # ---------------------------------------------------------------- signals
    async def submit_signal(self, signal: Signal) -> ExecutionReport:
        return await self.pipeline.execute(signal)

    async def preview_signal(self, signal: Signal) -> Preview:
        """A dry run through the same gate, sizing and risk checks: the exact orders the
        signal would send (after the venue's rounding) or the refusal; nothing is recorded
        or sent."""
        return await preview_signal(self.manager, self.gate, signal)

    async def accept_signal(self, signal: Signal) -> Accepted:
        """Record the signal durably and execute it in the background (webhooks): returns as
        soon as it is recorded; ``Accepted.running`` is the execution's future (its report)."""
        return await self.pipeline.accept(signal)

    async def submit(self, data: dict[str, Any], source: SignalSource) -> ExecutionReport:
        """Parse a dict (plugin / REST / MCP shape) and execute it; bad input -> report."""
        try:
            signal = Signal.from_request(data, source=source, now=datetime.now(UTC))
        except errors.InvalidSignal as exc:  # recorded as a rejected signal, never raised
            return await self.pipeline.record_invalid(data, SignalSource(source).value, exc)
        return await self.submit_signal(signal)

    # ------------------------------------------------------------ operations
    async def cancel(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        account: str | None = None,
    ) -> Order | None:
        """Cancels always pass, whatever the trading state; like every order for the account,
        only the replica holding its lease sends one (another raises `LeaseLost`)."""
        trader = await self.manager.get(account)
        self.pipeline.guard(trader)
        order = await trader.cancel_order(symbol, order_id, client_order_id)
        await self.pipeline.event(
            "order_cancel_requested",
            trader.account,
            order_id=None,
            exchange_order_id=order_id,
            client_order_id=client_order_id,
        )
        return order

    async def close_position(self, symbol: str, *, account: str | None = None) -> ExecutionReport:
        """Flatten one position with a reduce-only market order (allowed even when HALTED)."""
        signal = Signal(
            symbol=symbol,
            source=SignalSource.API,
            idempotency_key=f"close-{new_idempotency_key()}",
            created_at=datetime.now(UTC),
            account=account or self.manager.default_name(),
            target_position=Decimal(0),
            confidence=1.0,
            comment="operator close",
        )
        return await self.pipeline.execute(signal)

    async def set_leverage(
        self,
        symbol: str,
        leverage: int,
        margin_mode: MarginMode | None = None,
        *,
        account: str | None = None,
    ) -> str:
        """Set a symbol's leverage within the account's ``max_leverage``; returns the symbol."""
        trader = await self.manager.get(account)
        limit = self.gate.risk_config(trader.account).max_leverage
        if leverage > limit:
            raise errors.RiskRejected(
                "max_leverage", f"{leverage}x is above the configured max_leverage of {limit}x"
            )
        symbol = trader.resolve_symbol(symbol)
        await trader.set_leverage(symbol, leverage, margin_mode)
        await self.pipeline.event(
            "leverage_set",
            trader.account,
            symbol=symbol,
            leverage=leverage,
            margin_mode=margin_mode.value if margin_mode else None,
        )
        return symbol

    async def positions(self, account: str | None = None) -> list[Position]:
        trader = await self.manager.get(account)
        return await trader.fetch_positions()

    async def orders(self, account: str | None = None, symbol: str | None = None) -> list[Order]:
        trader = await self.manager.get(account)
        return await trader.fetch_open_orders(symbol)

    async def state(self, account: str | None = None) -> StateView:
        name = account or self.manager.default_name()
        state, reason = await self.records.get_trading_state(name)
        return StateView(name, TradingState(state), reason)

    async def kill_switch(
        self, tier: str, account: str | None = None, *, reason: str = "kill switch"
    ) -> dict[str, Any]:
        """The kill switch by tier (``KILL_SWITCH_TIERS``) - the one mapping every surface
        uses: pause_entries (REDUCING), halt, close_only (+ cancel open orders), flatten
        (+ close every position). Per account: ``state``, ``complete``, ``failures``."""
        return await self._kill.engage(tier, account, reason=reason)

    async def halt(
        self,
        account: str | None = None,
        *,
        reason: str = "kill switch",
        cancel_orders: bool = False,
        flatten: bool = False,
    ) -> dict[str, Any]:
        """HALTED, every account first; then optionally cancel and flatten (`KillSwitch`)."""
        return await self._kill.halt(
            account, reason=reason, cancel_orders=cancel_orders, flatten=flatten
        )

    async def resume(self, account: str | None = None, *, reason: str = "resumed") -> None:
        names = [account] if account else self.manager.names
        states = self.pipeline.states
        await self.pipeline.write(
            *(states.step(name, TradingState.ACTIVE, Mover.OPERATOR, reason) for name in names)
        )

    async def signal_timeline(self, key_or_id: str | int) -> Any:
        """Everything recorded about one signal: decision, orders with history, fills, events."""
        record = None
        if isinstance(key_or_id, int) or (str(key_or_id).isascii() and str(key_or_id).isdigit()):
            record = await self.records.get_signal(int(key_or_id))
        if record is None:
            record = await self.records.get_signal_by_key(str(key_or_id))
        if record is None:
            return None
        return await self.records.read(self.store.signal_timeline, record.id)

    async def health(self) -> dict[str, Any]:
        """Each account's health: connected, and its credentials proven by a private read
        (concurrently, so one slow venue does not hold the others up)."""
        checked = await self.manager.check_accounts()
        return {name: h.to_dict() for name, h in checked.items()}

    # ---- for the surfaces (api) ----
    async def accounts(self) -> list[dict[str, Any]]:
        """Every account: its trading state and reason, type, whether it is the default."""
        default = self.manager.default_name()
        return [
            {**(await self.state(name)).to_dict(), "type": self.config.account(name).type,
             "default": name == default}
            for name in self.manager.names
        ]  # fmt: skip

    async def balances(self, account: str | None = None) -> dict[str, Balance]:
        return await (await self.manager.get(account)).fetch_balance()

    async def pause_entries(
        self, account: str | None = None, *, reason: str = "entries paused"
    ) -> dict[str, Any]:
        """The kill switch's first tier: REDUCING, every target account in one commit."""
        return await self._kill.pause_entries(account, reason=reason)

    async def list_signals(self, **filters: Any) -> list[SignalRecord]:
        """Recorded signals, newest first (see ``store.queries.list_signals``)."""
        return list(await self.records.read(partial(queries.list_signals, self.store, **filters)))

    async def signal_known(self, idempotency_key: str) -> bool:
        return await self.records.get_signal_by_key(idempotency_key) is not None

    async def refuse_signal(self, signal: Signal, reason: str, detail: str) -> int:
        """Record a signal refused at the door (stale, out of order) as ``rejected`` with its
        reason, in one commit; returns its id (the existing one for a key seen before)."""
        account = signal.account or self.manager.default_name()

        def record() -> int:
            signal_id, created = self.store.record_signal(
                idempotency_key=signal.idempotency_key, account=account,
                symbol=signal.symbol, source=signal.source.value,
                payload=replace(signal, account=account).to_record(),
                confidence=signal.confidence,
            )  # fmt: skip
            if created:
                self.store.set_signal_status(
                    signal_id, SignalStatus.REJECTED.value, reason, expect=["received"]
                )
                data = {"reason": reason, "detail": detail}
                self.store.append_event("signal_refused", account, data, signal_id)
            return int(signal_id)

        (signal_id,) = await self.records.write(record)
        return int(signal_id)

    async def latest_target_alert(self, webhook_source: str, symbol: str) -> datetime | None:
        """The newest target-position alert time recorded for a webhook source and symbol."""
        find = partial(queries.latest_target_alert, self.store, webhook_source=webhook_source)
        found = await self.records.read(find, symbol=symbol)
        return found if isinstance(found, datetime) else None

    async def unprotected_positions(self, account: str) -> int:
        """Open positions without resting stops covering their full size."""
        trader = await self.manager.get(account)
        positions = [p for p in await trader.fetch_positions() if p.quantity]
        resting = await trader.fetch_open_orders() if positions else []
        return sum(1 for p in positions if stop_cover(resting, p) < abs(p.quantity))

    async def ready(self) -> dict[str, Any]:
        """Ready to trade: the store writable, each account's venue reachable with its
        credentials accepted (per account)."""
        store: dict[str, Any] = {"ok": True, "error": None}
        try:
            await self.records.run(queries.store_writable, self.store)
        except Exception as exc:  # any driver error means "not writable"
            store = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        accounts = await self.health()
        ok = store["ok"] and all(a["ok"] for a in accounts.values())
        return {"ready": ok, "store": store, "accounts": accounts}

    async def changes_after(self, cursor: queries.Cursor | None) -> queries.Changes:
        """What was recorded after ``cursor`` (signals, decisions, order transitions, fills,
        events: the SSE feed and the metrics); None: nothing, and the cursor of now."""
        if cursor is None:
            now = await self.records.read(queries.latest_cursor, self.store)
            return queries.Changes(now, (), (), (), (), ())
        changes = await self.records.read(queries.changes_after, self.store, cursor)
        assert isinstance(changes, queries.Changes)
        return changes

    async def signals_now(self, ids: list[int]) -> list[SignalRecord]:
        return list(await self.records.read(queries.signals_by_ids, self.store, ids))

    async def record_event(self, kind: str, account: str | None, **data: Any) -> None:
        """Append an operator-visible event (e.g. a webhook refused at the door)."""
        await self.pipeline.event(kind, account, **data)

    async def accept_request(
        self, data: dict[str, Any], source: SignalSource
    ) -> Accepted | ExecutionReport:
        """``submit`` without waiting for the execution (bad input: ``submit``'s answer)."""
        try:
            signal = Signal.from_request(data, source=source, now=datetime.now(UTC))
        except errors.InvalidSignal:
            return await self.submit(data, source)  # records and answers the refusal
        return await self.accept_signal(signal)
