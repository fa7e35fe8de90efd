"""Write before you act: the store writes shared by the pipeline, protection and the reconciler.

Every order is recorded as an intent before it is sent, and its answer (or its failure)
after; what the exchange later reports about an order moves it through the order-state table
(`observe`). Writes that belong together are one transaction (`write`); every store call runs
on the store's writer thread through its typed async front (`store.front.AsyncStore`).

Durability: a commit that records an order's intent before it is sent is synced to the disk
(`durable=True`, the default). Commits that only say what happened after (an answer, an
event, a signal's end) are relaxed: a power cut may lose them, and recovery rebuilds them
by asking the venue for each recorded intent's client id (README, "Performance").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any, ParamSpec, TypeVar

from tradeexec import errors
from tradeexec.domain import Order, OrderRequest, OrderSide, OrderStatus
from tradeexec.exchanges.interface import ExchangeTrader
from tradeexec.execution.brackets import cancel_quietly
from tradeexec.execution.ids import derive_client_order_id
from tradeexec.execution.lease import SOLE_OWNER, Lease, SoleOwner
from tradeexec.execution.planning import StoredPlan
from tradeexec.order_state import OrderEvent, apply_observation, transition
from tradeexec.signal_state import SignalStatus, predecessors
from tradeexec.store.front import AsyncStore
from tradeexec.store.records import OrderRecord
from tradeexec.store.repository import Store

P = ParamSpec("P")
R = TypeVar("R")

#: the history event of an intent the venue never saw (a crash before it was sent)
NEVER_SENT = "never_sent"


class IntentStep(partial[int]):
    """A store step recording an order's intent before it is sent: its commit is durable."""


class Journal:
    #: who may act for an account: the service replaces it with its replica's leases when
    #: several replicas share the database (see `lease.py`); alone, it owns every account
    lease: Lease = SOLE_OWNER

    def __init__(self, store: Store) -> None:
        self.store = store  # the synchronous store: its bound methods are `write`'s steps
        self.records = AsyncStore(store)  # the same store, awaited

    async def db(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Any store call, on the store's writer thread (typed: the call's own signature and
        result type carry through). Prefer `records`' named methods."""
        return await self.records.run(fn, *args, **kwargs)

    async def write(self, *steps: Callable[[], Any], durable: bool = True) -> list[Any]:
        """Run store writes as ONE transaction (one commit) on the writer thread; relaxed
        (``durable=False``) only for what recovery can rebuild (module docstring)."""
        return await self.records.write(*steps, durable=durable)

    async def event(
        self,
        kind: str,
        account: str | None,
        signal_id: int | None = None,
        order_id: int | None = None,
        **data: Any,
    ) -> None:
        step = partial(
            self.store.append_event, kind, account, data, signal_id=signal_id, order_id=order_id
        )
        await self.write(step, durable=False)

    # ------------------------------------------------------------- signals
    def status_step(
        self, signal_id: int, status: SignalStatus, reason: str | None
    ) -> Callable[[], Any]:
        """Move a signal along the lifecycle table; a signal already elsewhere (ended by
        another path) is left as it is."""
        expect = set(predecessors(status))
        if status is SignalStatus.EXECUTING:
            expect.add(status)  # a new reason (e.g. an order's outcome is unknown)
        return partial(
            self.store.set_signal_status,
            signal_id,
            status.value,
            reason,
            expect=[s.value for s in expect],
        )

    async def set_status(self, signal_id: int, status: SignalStatus, reason: str | None) -> None:
        """Relaxed: a status lost to a power cut leaves the signal unfinished, and recovery
        resumes it (each order looked up by its client id, nothing sent twice)."""
        await self.write(self.status_step(signal_id, status, reason), durable=False)

    # -------------------------------------------------------------- orders
    def intent_step(
        self, account: str, request: OrderRequest, role: str, signal_id: int | None
    ) -> IntentStep:
        assert request.client_order_id is not None
        return IntentStep(
            self.store.record_order_intent,
            account=account,
            symbol=request.symbol,
            client_order_id=request.client_order_id,
            role=role,
            side=request.side.value,
            order_type=request.type.value,
            quantity=request.quantity,
            signal_id=signal_id,
            price=request.price,
            trigger_price=request.trigger_price,
            reduce_only=request.reduce_only,
            status=OrderStatus.PENDING_SUBMIT.value,
            fence=self.lease.fence(account),  # refused in the store if the lease moved on
        )

    def ack_step(self, order_id: int, order: Order, event: str) -> Callable[[], Any]:
        """The venue's answer to an intent we recorded (so pending_submit until now): no read
        before the update (`Store.record_answer`)."""
        return partial(
            self.store.record_answer,
            order_id,
            was=OrderStatus.PENDING_SUBMIT.value,
            status=order.status.value,
            exchange_order_id=order.id,
            filled_quantity=order.filled_quantity,
            average_price=order.average_price,
            event=event,
        )

    async def record_intent(
        self, account: str, request: OrderRequest, role: str, signal_id: int | None
    ) -> int:
        """Write before you act: the order as we are about to send it."""
        (order_id,) = await self.write(self.intent_step(account, request, role, signal_id))
        return int(order_id)

    async def record_order(
        self, order_id: int, order: Order, event: str, *then: Callable[[], Any]
    ) -> list[Any]:
        """Record what the venue answered for an order, plus ``then`` steps in the same
        commit (the next order's intent, the signal's status); returns their results.
        The commit is synced to the disk when ``then`` records an intent (about to be sent),
        relaxed otherwise."""
        durable = any(isinstance(step, IntentStep) for step in then)
        results = await self.write(self.ack_step(order_id, order, event), *then, durable=durable)
        return results[1:]

    async def send(
        self, trader: ExchangeTrader, request: OrderRequest, order_id: int, signal_id: int | None
    ) -> Order:
        """Send a recorded intent. A refusal or an unknown outcome is recorded, then raised.
        Nothing is sent once this replica no longer holds the account (`LeaseLost`)."""
        self.guard(trader)
        try:
            return await trader.create_order(request)
        except errors.OrderOutcomeUnknown as exc:
            await self._record_failure(
                trader.account,
                order_id,
                signal_id,
                OrderStatus.UNKNOWN,
                exc,
                event="timed_out",
                kind="order_outcome_unknown",
                data={"client_order_id": request.client_order_id},
            )
            raise
        except errors.ExchangeError as exc:
            await self._record_failure(
                trader.account,
                order_id,
                signal_id,
                OrderStatus.REJECTED,
                exc,
                event="rejected",
                kind="order_rejected",
                data={"error": exc.to_dict()},
            )
            raise

    async def cancel(
        self,
        trader: ExchangeTrader,
        symbol: str,
        order_id: str | None,
        client_order_id: str | None,
    ) -> Order | None:
        """Cancel one of the account's orders; one already gone is fine (None). Fenced like a
        send: a replica that no longer holds the account cancels nothing (`LeaseLost`), so a
        paused old owner cannot pull the stops the new owner relies on."""
        self.guard(trader)
        return await cancel_quietly(trader, symbol, order_id, client_order_id)

    def guard(self, trader: ExchangeTrader) -> None:
        """Raise `LeaseLost` unless this process may act for the trader's account now, and
        make the trader check again right before the request leaves (its ``send_gate``):
        after the ticker read a market order may need and any wait for the rate limits,
        which a busy or paused process could outlast its lease in."""
        account = trader.account
        self.lease.check(account)
        if not isinstance(self.lease, SoleOwner) and trader.send_gate is None:
            trader.send_gate = partial(self.lease.check, account)

    async def _record_failure(
        self,
        account: str,
        order_id: int,
        signal_id: int | None,
        status: OrderStatus,
        exc: errors.ExchangeError,
        *,
        event: str,
        kind: str,
        data: dict[str, Any],
    ) -> None:
        await self.write(
            partial(
                self.store.update_order, order_id, status=status.value, event=event, detail=str(exc)
            ),
            partial(
                self.store.append_event, kind, account, data, signal_id=signal_id, order_id=order_id
            ),
            durable=False,  # lost to a power cut: the intent is looked up by its client id
        )

    # ------------------------------------------------------- placing orders
    def client_id(self, trader: ExchangeTrader, idempotency_key: str, role: str) -> str:
        return derive_client_order_id(idempotency_key, role, trader.capabilities.client_id_format)

    async def place(
        self, trader: ExchangeTrader, request: OrderRequest, role: str, signal_id: int | None
    ) -> Order:
        """Record the intent, send, record the outcome (one order on its own)."""
        order_id = await self.record_intent(trader.account, request, role, signal_id)
        order = await self.send(trader, request, order_id, signal_id)
        await self.record_order(order_id, order, "acknowledged")
        return order

    async def ensure(
        self,
        trader: ExchangeTrader,
        request: OrderRequest,
        role: str,
        signal_id: int | None,
        *,
        may_send: Callable[[], Awaitable[bool]] | None = None,
    ) -> tuple[Order, int, bool] | None:
        """The order with ``request``'s client id, placed once: one the store holds is looked
        up on the venue (never sent twice); one the venue never saw is sent with the same id;
        one never recorded is recorded, then sent. None: ``may_send`` said no."""
        assert request.client_order_id is not None
        account = trader.account
        record = await self.records.get_order_by_client_id(account, request.client_order_id)
        if record is not None:
            found = await self.lookup(trader, record)
            if found is None and OrderStatus(record.status) is OrderStatus.PENDING_SUBMIT:
                if may_send is not None and not await may_send():
                    return None
                if record.quantity != request.quantity:
                    # a bracket leg recorded with its entry's intent, sized as planned
                    # (`leg_intents`): its intent says what is sent before it is sent
                    await self.write(
                        IntentStep(
                            self.store.resize_intent,
                            record.id,
                            request.quantity,
                            was=OrderStatus.PENDING_SUBMIT.value,
                        )
                    )
                return await self.send(trader, request, record.id, signal_id), record.id, True
            status = await self.observe(record, found)
            return replace(found or order_from_record(record), status=status), record.id, False
        if may_send is not None and not await may_send():
            return None
        new_id = await self.record_intent(account, request, role, signal_id)
        return await self.send(trader, request, new_id, signal_id), new_id, True

    async def stored_plan(self, signal_id: int, *, legs_only: bool = False) -> StoredPlan | None:
        """What the signal's approved decision asked for (quantity, position, closing part,
        the legs' prices as rounded onto the venue's grid). With ``legs_only``, a signal
        decided before plans were kept gets its own stop and target (and no quantities)."""
        decisions = await self.records.decisions_for_signal(signal_id)
        plans = [d.plan for d in decisions if d.approved and d.plan]
        if plans:
            return StoredPlan.from_record(plans[-1])
        signal = await self.records.get_signal(signal_id)
        if not legs_only or signal is None or not any(d.approved for d in decisions):
            return None
        return StoredPlan.from_record({**signal.payload, "quantity": None, "position": None})

    # ------------------------------------------------------ what the venue says
    async def lookup(self, trader: ExchangeTrader, record: OrderRecord) -> Order | None:
        """The order as the venue has it, by client id (and exchange id); None: not known."""
        try:
            return await trader.fetch_order(
                record.symbol, record.exchange_order_id, record.client_order_id
            )
        except errors.OrderNotFound:
            return None

    async def observe(self, record: OrderRecord, order: Order | None) -> OrderStatus:
        """Move one stored order to what the exchange reports (None: it does not know it)."""
        current = OrderStatus(record.status)
        never_sent = order is None and current is OrderStatus.PENDING_SUBMIT
        if order is None:
            if current is OrderStatus.PENDING_SUBMIT:
                current = transition(current, OrderEvent.TIMED_OUT)
            if current.is_open:  # live for us, unknown to the venue (archived, venue reset):
                new = transition(current, OrderEvent.CANCELED)  # it cannot fill any more
            else:
                new = apply_observation(current, None)
        else:
            new = apply_observation(current, order.status, order.filled_quantity, record.quantity)
        if new.value != record.status or (
            order and order.filled_quantity != record.filled_quantity
        ):
            await self.records.update_order(
                record.id,
                status=new.value,
                exchange_order_id=order.id if order else None,
                filled_quantity=order.filled_quantity if order else None,
                average_price=order.average_price if order else None,
                # an intent the venue never saw was never sent (a crash before sending):
                # say so, so a missing bracket leg can be placed again
                event=NEVER_SENT if never_sent else "reconciled",
                detail="not found on the exchange" if order is None else None,
            )
        return new


def order_from_record(record: OrderRecord) -> Order:
    """What the store knows of an order, as an Order (for answers built from the store)."""
    return Order(
        id=record.exchange_order_id or "",
        client_order_id=record.client_order_id,
        symbol=record.symbol,
        side=OrderSide(record.side),
        type=record.order_type,  # type: ignore[arg-type]
        status=OrderStatus(record.status),
        quantity=record.quantity,
        filled_quantity=record.filled_quantity,
        average_price=record.average_price,
        price=record.price,
        trigger_price=record.trigger_price,
        reduce_only=record.reduce_only,
        timestamp=int(record.updated_at.timestamp() * 1000),
    )
