"""The soak's verdict: the store and the answers held against the simulator's own state.

`check_soak` reads the venue through the simulator's engines (never through tradeexec) and the
store through `Store`; it returns every violation found, each naming its check:

- ``a_double_order``: one idempotency key produced more than one order on the venue for a
  role that must happen once (entry, close, flatten), found by the derived client id.
- ``b_missing_signal``: a delivered key is not in the store.
- ``c_not_terminal``: a signal's status is not terminal (`TERMINAL_STATUSES`).
- ``c_contradicts_venue``: the terminal status says something the venue denies (``filled`` /
  ``flattened`` / ``partially_done`` with no entry or close fill on the venue for its client
  ids; ``rejected`` / ``failed`` / ``expired`` / ``noop`` with one).
- ``c_missing_reason``: the store records statuses with reasons, and this terminal one
  (other than filled / noop) has none.
- ``d_open_not_in_store`` / ``d_open_not_on_venue``: open orders differ between the venue and
  the store (by client id).
- ``e_unprotected``: an open position without resting reduce-only stops covering its full
  size, while the account is ACTIVE (REDUCING / HALTED with a reason is an answer). The
  driver also runs this check between batches (``e_unprotected_midrun``): a final reconcile
  that moves the account to REDUCING must not hide hours of unprotected trading before it.
- ``f_answer_contradicts_store``: what a caller was told disagrees with the store's final
  record (a non-duplicate answer with another status, or a success for a signal that ended
  refused, failed or expired).
- ``f_unanswered`` / ``f_answer_exception`` / ``f_no_final_answer``: a delivered key never
  answered, ``submit`` raised instead of answering, or the last answer (after the driver
  re-sent every key answered only ``in_progress``, as such an answer asks) is still
  ``in_progress``.

The driver adds ``g_*`` findings about the worker processes (a start-up or final reconcile
that raised, a worker that died unprompted or hung); see `soak.Driver.add_process_findings`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from tradeexec.execution.ids import ClientIdFormat, derive_client_order_id
from tradeexec.sim.engine import Engine, Fill, OrderKind, Side, SimOrder
from tradeexec.store.records import OrderRecord, SignalRecord

try:  # the signal lifecycle (issue 7); until it exists, the statuses it will make terminal
    from tradeexec.signal_state import TERMINAL as _TERMINAL

    TERMINAL_STATUSES: frozenset[str] = frozenset(str(s) for s in _TERMINAL)
except ImportError:  # pragma: no cover - only before the signal lifecycle lands
    TERMINAL_STATUSES = frozenset(
        {"filled", "partially_done", "rejected", "failed", "flattened", "expired", "noop"}
    )

# Orders a key may produce at most once each. "flatten" is stored as a close, but its client
# id is derived from the role "flatten".
ONCE_ROLES = ("entry", "close", "flatten")
NOTHING_FILLED = frozenset({"rejected", "failed", "expired", "noop"})
SOMETHING_FILLED = frozenset({"filled", "flattened", "partially_done"})
NOT_SUCCESS = frozenset({"rejected", "failed", "expired", "flattened"})
NO_REASON_NEEDED = frozenset({"filled", "noop"})
# answers that say "not finished" / "already known", not a final status of their own
PROVISIONAL_ANSWERS = frozenset({"duplicate", "in_progress"})
STORE_TERMINAL_ORDER = frozenset({"filled", "canceled", "rejected", "expired"})


class StoreView(Protocol):
    """The three reads the checks make (`Store` has them; a test may pass a stand-in)."""

    def get_signal_by_key(self, idempotency_key: str) -> SignalRecord | None: ...

    def list_orders(
        self, account: str | None = None, statuses: Iterable[str] | None = None, limit: int = 100
    ) -> list[OrderRecord]: ...

    def get_trading_state(self, account: str) -> tuple[str, str | None]: ...


@dataclass(frozen=True)
class VenueAccount:
    """Where one tradeexec account lives on the simulator."""

    name: str  # the tradeexec account name
    engine: Engine
    engine_account: str
    client_id_format: ClientIdFormat


@dataclass(frozen=True)
class Violation:
    check: str
    account: str
    key: str | None
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.account} {self.key or '-'}: {self.detail}"


@dataclass
class Verdict:
    violations: list[Violation] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # how each account ended (not verdicts)

    def add(self, check: str, account: str, key: str | None, detail: str) -> None:
        self.violations.append(Violation(check, account, key, detail))

    def by_check(self) -> Counter[str]:
        return Counter(v.check for v in self.violations)


def _norm(client_id: str | None) -> str:
    return (client_id or "").lower()


def _orders(venue: VenueAccount) -> list[SimOrder]:
    return [o for o in venue.engine.orders.values() if o.account_id == venue.engine_account]


def _fills(venue: VenueAccount) -> list[Fill]:
    return venue.engine.account_fills(venue.engine_account)


def _reason(record: SignalRecord) -> tuple[bool, str | None]:
    """Whether the store records status reasons at all, and this signal's."""
    for name in ("status_reason", "reason"):
        if hasattr(record, name):
            return True, getattr(record, name)
    return False, None


def check_soak(
    store: StoreView,
    venues: Sequence[VenueAccount],
    delivered: Mapping[str, str],
    answers: Mapping[str, Sequence[Mapping[str, Any]]],
) -> Verdict:
    """Every check above. ``delivered``: key -> account; ``answers``: key -> answer lines."""
    verdict = Verdict()
    by_name = {v.name: v for v in venues}
    orders_by_cid: dict[tuple[str, str], list[SimOrder]] = {}
    filled_cids: dict[str, set[str]] = {}
    for venue in venues:
        for order in _orders(venue):
            orders_by_cid.setdefault((venue.name, _norm(order.spec.client_id)), []).append(order)
        filled_cids[venue.name] = {_norm(f.client_id) for f in _fills(venue)}

    for key, account in sorted(delivered.items()):
        venue = by_name[account]
        cids = {
            role: _norm(derive_client_order_id(key, role, venue.client_id_format))
            for role in ONCE_ROLES
        }
        for role, cid in cids.items():
            placed = orders_by_cid.get((account, cid), [])
            if len(placed) > 1:
                ids = ", ".join(f"{o.order_id}:{o.status.value}" for o in placed)
                verdict.add("a_double_order", account, key, f"{len(placed)} {role} orders: {ids}")
        record = store.get_signal_by_key(key)
        if record is None:
            verdict.add("b_missing_signal", account, key, "delivered, not in the store")
            continue
        status = record.status
        verdict.statuses[status] += 1
        filled = sorted(r for r, cid in cids.items() if cid in filled_cids[account])
        _check_status(verdict, record, filled)
        _check_answers(verdict, record, answers.get(key, ()))

    for venue in venues:
        _check_open_orders(verdict, store, venue)
        _check_protection(verdict, store, venue)
    return verdict


def _check_status(verdict: Verdict, record: SignalRecord, filled: list[str]) -> None:
    key, account, status = record.idempotency_key, record.account, record.status
    if status not in TERMINAL_STATUSES:
        verdict.add("c_not_terminal", account, key, f"status {status!r}; venue fills: {filled}")
        return
    if status in SOMETHING_FILLED and not filled:
        verdict.add("c_contradicts_venue", account, key, f"{status}, but nothing of it filled")
    if status in NOTHING_FILLED and filled:
        verdict.add("c_contradicts_venue", account, key, f"{status}, but the venue filled {filled}")
    has_reasons, reason = _reason(record)
    if has_reasons and status not in NO_REASON_NEEDED and not reason:
        verdict.add("c_missing_reason", account, key, f"{status} with no recorded reason")


def _check_answers(
    verdict: Verdict, record: SignalRecord, lines: Sequence[Mapping[str, Any]]
) -> None:
    key, account, final = record.idempotency_key, record.account, record.status
    if not lines:
        verdict.add("f_unanswered", account, key, f"never answered (store: {final})")
    told_last = None
    for line in lines:
        if "exception" in line:
            last = str(line["exception"]).strip().splitlines()[-1]
            verdict.add("f_answer_exception", account, key, f"submit raised: {last}")
            continue
        report = line["report"]
        told = told_last = str(report.get("status"))
        verdict.answers[told] += 1
        original = report.get("original_status")
        if original in TERMINAL_STATUSES and original != final:
            detail = f"answered {told} of an original {original}, store {final}"
            verdict.add("f_answer_contradicts_store", account, key, detail)
        elif told not in PROVISIONAL_ANSWERS and told != final:
            verdict.add(
                "f_answer_contradicts_store", account, key, f"answered {told}, store {final}"
            )
        elif report.get("success") and final in NOT_SUCCESS | {"received", "executing"}:
            detail = f"answered {told} success=True, store {final}"
            verdict.add("f_answer_contradicts_store", account, key, detail)
    if told_last == "in_progress":
        detail = f"still answered in_progress after recovery and reconcile (store: {final})"
        verdict.add("f_no_final_answer", account, key, detail)


def _check_open_orders(verdict: Verdict, store: StoreView, venue: VenueAccount) -> None:
    on_venue = {
        _norm(o.spec.client_id): o
        for o in venue.engine.open_orders(venue.engine_account)
        if o.armed or o.spec.parent_id is None
    }
    recorded = [
        o
        for o in store.list_orders(venue.name, None, 1_000_000)
        if o.status not in STORE_TERMINAL_ORDER
    ]
    in_store = {_norm(o.client_order_id): o for o in recorded}
    for cid, order in sorted(on_venue.items()):
        if cid not in in_store:
            what = f"{order.spec.kind.value} {order.spec.side.value} {order.spec.qty}"
            verdict.add("d_open_not_in_store", venue.name, None, f"{what} {order.spec.coin} {cid}")
    for cid, record in sorted(in_store.items()):
        if cid not in on_venue:
            what = f"{record.role} {record.symbol} {record.status}"
            detail = f"{what} {cid} (signal {record.signal_id})"
            verdict.add("d_open_not_on_venue", venue.name, None, detail)


def _stop_cover(orders: Iterable[SimOrder], coin: str, long: bool) -> Decimal | None:
    """How much of a position resting stops would close (None: one closes it all)."""
    closing_side = Side.SELL if long else Side.BUY
    cover = Decimal(0)
    for order in orders:
        spec = order.spec
        if spec.coin != coin or spec.side is not closing_side or not order.armed:
            continue
        if spec.kind not in (OrderKind.STOP_MARKET, OrderKind.STOP_LIMIT):
            continue
        if spec.close_position:
            return None
        if spec.reduce_only:
            cover += order.remaining
    return cover


def protection(store: StoreView, venue: VenueAccount) -> tuple[str, str | None, list[str]]:
    """The account's trading state and reason, and one line per open position on the venue
    that resting reduce-only stops do not cover in full (whatever the state)."""
    state, reason = store.get_trading_state(venue.name)
    resting = venue.engine.open_orders(venue.engine_account)
    short: list[str] = []
    for position in venue.engine.positions(venue.engine_account):
        size = abs(position.qty)
        cover = _stop_cover(resting, position.coin, position.qty > 0)
        if cover is not None and cover < size:
            short.append(f"{position.coin} {position.qty}: stops cover {cover}")
    return state.upper(), reason, short


def unprotected(store: StoreView, venue: VenueAccount) -> list[str]:
    """Check (e) on its own (the driver also runs it between batches, when nothing is in
    flight): positions short of stop cover while the account is ACTIVE (or has no reason)."""
    state, reason, short = protection(store, venue)
    if state in ("REDUCING", "HALTED") and reason:
        return []
    return [f"{line}; account {state}" for line in short]


def _check_protection(verdict: Verdict, store: StoreView, venue: VenueAccount) -> None:
    for line in unprotected(store, venue):
        verdict.add("e_unprotected", venue.name, None, line)
    state, reason, short = protection(store, venue)
    positions = venue.engine.positions(venue.engine_account)
    held = ", ".join(f"{p.coin} {p.qty}" for p in positions) or "flat"
    verdict.notes.append(
        f"{venue.name}: {state}{f' ({reason})' if reason else ''}; positions {held}; "
        f"short of stop cover: {short or 'none'}"
    )
