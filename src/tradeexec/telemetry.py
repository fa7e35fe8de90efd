"""The service's Prometheus metrics (``GET /metrics``), on a registry of their own.

=========================================  ================================================
metric                                     what moves it
=========================================  ================================================
``tradeexec_signals_total``                a signal's answer at the door (refused,
  {source, status}                         duplicate) or its end (filled, rejected, ...)
``tradeexec_orders_total``                 an order's first answer from the venue
  {account, role, result}                  (submitted, filled, rejected, unknown ...)
``tradeexec_signal_ack_seconds``           request in -> webhook / REST answer out
``tradeexec_signal_to_order_seconds``      signal recorded -> its entry's first answer
``tradeexec_exchange_request_seconds``     every HTTP request to a ccxt venue
  {account, method}                        (``method`` is ``"POST /fapi/v1/order"``)
``tradeexec_exchange_errors_total``        a failed venue request, by tradeexec error code
  {account, code}
``tradeexec_unprotected_positions``        open positions without resting stops of their
  {account}                                full size: the number to alert on
``tradeexec_account_state``                1 for the account's trading state, 0 otherwise
  {account, state}
``tradeexec_reconcile_mismatches_total``   mismatches the reconciler reported
  {account}
``tradeexec_lease_changes_total``          this replica's account leases (``serve
  {account, reason}                        --replica-id``): ``acquired`` (free), ``taken_over``
                                           (from another replica), ``lost`` (a renewal
                                           refused), ``released`` (a clean stop)
``tradeexec_leases_held``                  account leases this replica holds now
``tradeexec_takeover_seconds``             the previous holder's last renewal -> this
                                           replica's first successful reconcile of the account
=========================================  ================================================

A registry per `Telemetry` (not prometheus-client's global one), so several services in one
process (tests) never collide. No label ever holds a secret: accounts, roles, statuses,
error codes and request paths only.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tradeexec.domain import TradingState
from tradeexec.exchanges import ccxt_trader
from tradeexec.store.queries import Changes

__all__ = ["CONTENT_TYPE", "Telemetry"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ENTRY_ROLES = ("entry", "close")
_TAKEOVER = (0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.signals = Counter(
            "tradeexec_signals_total", "Signals by source and outcome", ["source", "status"],
            registry=r,
        )  # fmt: skip
        self.orders = Counter(
            "tradeexec_orders_total", "Orders by the venue's first answer",
            ["account", "role", "result"], registry=r,
        )  # fmt: skip
        self.signal_ack = Histogram(
            "tradeexec_signal_ack_seconds", "Signal request in to answer out", buckets=_FAST,
            registry=r,
        )  # fmt: skip
        self.signal_to_order = Histogram(
            "tradeexec_signal_to_order_seconds", "Signal recorded to its entry's first answer",
            buckets=_FAST, registry=r,
        )  # fmt: skip
        self.exchange_request = Histogram(
            "tradeexec_exchange_request_seconds", "HTTP requests to venues",
            ["account", "method"], buckets=_FAST, registry=r,
        )  # fmt: skip
        self.exchange_errors = Counter(
            "tradeexec_exchange_errors_total", "Failed venue requests by error code",
            ["account", "code"], registry=r,
        )  # fmt: skip
        self.unprotected = Gauge(
            "tradeexec_unprotected_positions",
            "Open positions without resting stops covering their full size", ["account"],
            registry=r,
        )  # fmt: skip
        self.account_state = Gauge(
            "tradeexec_account_state", "1 for the account's trading state",
            ["account", "state"], registry=r,
        )  # fmt: skip
        self.reconcile_mismatches = Counter(
            "tradeexec_reconcile_mismatches_total", "Mismatches found by reconciliation",
            ["account"], registry=r,
        )  # fmt: skip
        self.lease_changes = Counter(
            "tradeexec_lease_changes_total", "Account lease changes of this replica",
            ["account", "reason"], registry=r,
        )  # fmt: skip
        self.leases_held = Gauge(
            "tradeexec_leases_held", "Account leases this replica holds", registry=r
        )
        self.takeover = Histogram(
            "tradeexec_takeover_seconds",
            "Previous holder's last renewal to this replica's first reconcile of the account",
            buckets=_TAKEOVER, registry=r,
        )  # fmt: skip
        # signal id -> when it was recorded, for signal_to_order (bounded)
        self._recorded: OrderedDict[int, datetime] = OrderedDict()
        self._timed: set[int] = set()

    # --------------------------------------------------------------- venue requests
    def attach(self) -> None:
        """Observe every ccxt venue request in this process (until `detach`)."""
        if self.observe_request not in ccxt_trader.request_observers:
            ccxt_trader.request_observers.append(self.observe_request)

    def detach(self) -> None:
        if self.observe_request in ccxt_trader.request_observers:
            ccxt_trader.request_observers.remove(self.observe_request)

    def observe_request(self, account: str, method: str, seconds: float, code: str | None) -> None:
        self.exchange_request.labels(account, method).observe(seconds)
        if code is not None:
            self.exchange_errors.labels(account, code).inc()

    # ----------------------------------------------------------------- the doors
    def signal(self, source: str, status: str) -> None:
        self.signals.labels(source, status).inc()

    def acknowledged(self, seconds: float) -> None:
        self.signal_ack.observe(seconds)

    # ---------------------------------------------------------------- the store
    def record_changes(self, changes: Changes) -> None:
        """Count what the store's change feed shows: first answers of orders (and the time
        from their signal), reconcile mismatches."""
        for signal in changes.signals:
            self._recorded[signal.id] = signal.created_at
        while len(self._recorded) > 10_000:
            self._recorded.popitem(last=False)
        if len(self._timed) > 10_000:
            self._timed.clear()
        for transition, order in changes.orders:
            if transition.from_status != "pending_submit":
                continue
            self.orders.labels(order.account, order.role, transition.to_status).inc()
            sid = order.signal_id
            if sid is None or order.role not in _ENTRY_ROLES:
                continue
            if sid in self._recorded and sid not in self._timed:
                self._timed.add(sid)
                seconds = (transition.at - self._recorded[sid]).total_seconds()
                self.signal_to_order.observe(max(seconds, 0.0))
        for event in changes.events:
            if event.kind == "reconcile_mismatch" and event.account:
                found = event.data.get("reasons") or []
                self.reconcile_mismatches.labels(event.account).inc(max(len(found), 1))

    def set_account_state(self, account: str, state: str) -> None:
        for known in TradingState:
            self.account_state.labels(account, known.value).set(1 if known.value == state else 0)

    def set_unprotected(self, account: str, count: int) -> None:
        self.unprotected.labels(account).set(count)

    # ---------------------------------------------------------------- replicas
    def lease_changed(self, account: str, reason: str) -> None:
        self.lease_changes.labels(account, reason).inc()

    def set_leases_held(self, count: int) -> None:
        self.leases_held.set(count)

    def took_over(self, seconds: float) -> None:
        self.takeover.observe(max(seconds, 0.0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
