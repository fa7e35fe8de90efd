"""`AsyncStore`: the store's typed async front, for code running on an event loop.

Each method is the `Store` method of the same name as a coroutine, with the same parameters
and return type (mypy checks both through `_OnThread`). They run on the store's one writer
thread (`Store.thread`), in the order they were awaited: a write and the read after it see
each other, and one process never queues two writers on SQLite's lock. `write` runs several
write steps as one transaction there, durable or relaxed (`Store.batch`).

Reads that may be long (operators' lists, a signal's whole timeline, dashboards) go through
`read`, on the default executor's threads, so they never hold up the order path's writes.
The synchronous `Store` stays the API for the CLI, tests and other threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from tradeexec.store.repository import Store
from tradeexec.store.worker import WriteBatch

P = ParamSpec("P")
R = TypeVar("R")


class _OnThread(Generic[P, R]):
    """A `Store` method as an `AsyncStore` coroutine method run on the writer thread."""

    def __init__(self, method: Callable[Concatenate[Store, P], R]) -> None:
        self._method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, front: None, owner: type[AsyncStore]) -> _OnThread[P, R]: ...
    @overload
    def __get__(
        self, front: AsyncStore, owner: type[AsyncStore]
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __get__(
        self, front: AsyncStore | None, owner: type[AsyncStore]
    ) -> _OnThread[P, R] | Callable[P, Coroutine[Any, Any, R]]:
        if front is None:
            return self
        method, store = self._method, front.store

        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return await store.thread.submit(partial(method, store, *args, **kwargs))

        return call


class AsyncStore:
    """The typed async front of one `Store` (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Any store call (``fn`` with its arguments) on the writer thread, typed as ``fn``."""
        return await self.store.thread.submit(partial(fn, *args, **kwargs))

    async def read(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """A read that may take a while, off the writer thread (see the module docstring)."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def write(
        self, *steps: Callable[[], Any], durable: bool = True, urgent: bool = False
    ) -> list[Any]:
        """Run write steps (store calls with their arguments bound) as ONE transaction on the
        writer thread: one commit, synced to the disk unless ``durable=False``; returns each
        step's result. Relax only what reconciliation can rebuild (acknowledgements, events,
        a signal's end), never an order's intent before it is sent. ``urgent``: ahead of the
        ordinary calls waiting (a record an answer waits on: webhook acknowledgements), so
        background executions' commits cannot starve the door."""
        batch = WriteBatch(self.store, steps, durable)
        return await self.store.thread.submit(batch, urgent=urgent)

    # -- signals and decisions
    record_signal = _OnThread(Store.record_signal)
    get_signal = _OnThread(Store.get_signal)
    get_signal_by_key = _OnThread(Store.get_signal_by_key)
    set_signal_status = _OnThread(Store.set_signal_status)
    unfinished_signals = _OnThread(Store.unfinished_signals)
    decisions_for_signal = _OnThread(Store.decisions_for_signal)
    # -- orders
    get_order = _OnThread(Store.get_order)
    get_order_by_client_id = _OnThread(Store.get_order_by_client_id)
    orders_for_signal = _OnThread(Store.orders_for_signal)
    orders_in_flight = _OnThread(Store.orders_in_flight)
    list_orders = _OnThread(Store.list_orders)
    update_order = _OnThread(Store.update_order)
    order_history = _OnThread(Store.order_history)
    # -- fills, events, account state, leases
    fills_for_order = _OnThread(Store.fills_for_order)
    record_fill = _OnThread(Store.record_fill)
    append_event = _OnThread(Store.append_event)
    events = _OnThread(Store.events)
    get_trading_state = _OnThread(Store.get_trading_state)
    wake_owner = _OnThread(Store.wake_owner)


__all__ = ["AsyncStore", "WriteBatch"]
