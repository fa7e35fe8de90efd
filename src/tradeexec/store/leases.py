"""Account leases with a fencing epoch: which replica executes for an account.

Several service replicas may share one PostgreSQL database; any of them records signals, but
only the holder of an account's lease executes for it (DESIGN.md section 9). A lease is a row
(``account_leases``), not an advisory lock: a lock held by a session dies with the session,
but it gives no number that a later write can be checked against, and a replica whose process
is paused (SIGSTOP, a long GC pause, a frozen VM) still believes it holds it. The row carries
an **epoch**, raised by one whenever the lease changes hands or is taken again after it ran
out, and every order intent is written with the epoch it was decided under (`Fence`): the
write checks, in its own transaction, that the row still names this holder and epoch and has
not run out, and raises `StaleLease` otherwise. A paused old owner that wakes up after a
takeover can therefore not record an intent, and nothing is sent without one.

The check takes the lease row ``FOR SHARE`` and a takeover takes it ``FOR UPDATE``, so the two
are ordered: an intent committed before the takeover is seen by the new owner's recovery, one
attempted after it is refused. Times are the database's clock (``clock_timestamp()`` on
PostgreSQL), so replicas on hosts whose clocks disagree still agree on when a lease runs out.
On SQLite (one process) the same code works with the process's clock; the service does not
use leases there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tradeexec.store.base import StoreBase, _record, _table
from tradeexec.store.models import AccountLeaseRow, utcnow
from tradeexec.store.wakeups import notify_account

_LEASES = _table(AccountLeaseRow)
_LEASE = select(_LEASES).where(_LEASES.c.account == bindparam("b_account"))
_LEASE_FOR_UPDATE = _LEASE.with_for_update()
_LEASE_FOR_SHARE = _LEASE.with_for_update(read=True)
_INSERT_LEASE = insert(_LEASES)
_UPDATE_LEASE = update(_LEASES).where(_LEASES.c.account == bindparam("b_account"))
_RELEASE = delete(_LEASES).where(
    _LEASES.c.account == bindparam("b_account"),
    _LEASES.c.holder == bindparam("b_holder"),
    _LEASES.c.epoch == bindparam("b_epoch"),
)


def bound_idle_transactions(engine: Engine, seconds: float) -> None:
    """Have PostgreSQL end any session of ``engine`` left idle inside a transaction for more
    than ``seconds`` (``idle_in_transaction_session_timeout``), for connections opened from
    now on (the pool is emptied). A replica paused in the middle of a write (SIGSTOP, a frozen
    VM) holds its row locks - the lease row's among them, ``FOR SHARE`` while an intent is
    written - and would otherwise keep every other replica from taking the lease for as long
    as it stays paused. Nothing on SQLite (one process)."""
    if engine.dialect.name != "postgresql":
        return
    milliseconds = max(1, int(seconds * 1000))

    @event.listens_for(engine, "connect")
    def _bounded(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {milliseconds}")
        dbapi_connection.commit()

    engine.dispose()


class StaleLease(RuntimeError):
    """The write was decided under a lease that has since run out or changed hands."""


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease an order intent is written under: refused unless still current."""

    account: str
    holder: str
    epoch: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseRecord:
    account: str
    holder: str
    epoch: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime

    @property
    def fence(self) -> Fence:
        return Fence(self.account, self.holder, self.epoch)


def database_now(connection: Connection) -> datetime:
    """The database's clock (PostgreSQL), or this process's (SQLite: one process)."""
    if connection.dialect.name == "postgresql":
        found = connection.execute(select(func.clock_timestamp())).scalar_one()
        assert isinstance(found, datetime)
        return found
    return utcnow()


def check_fence(connection: Connection, fence: Fence) -> None:
    """Raise `StaleLease` unless ``fence`` is the account's current, unexpired lease; holds
    the lease row (``FOR SHARE``) until ``connection``'s transaction ends."""
    row = connection.execute(_LEASE_FOR_SHARE, {"b_account": fence.account}).one_or_none()
    now = database_now(connection)
    if row is None or row.holder != fence.holder or row.epoch != fence.epoch:
        current = "none" if row is None else f"{row.holder} epoch {row.epoch}"
        raise StaleLease(
            f"account {fence.account!r}: lease epoch {fence.epoch} of {fence.holder} is stale "
            f"(now: {current})"
        )
    if row.expires_at <= now:
        raise StaleLease(f"account {fence.account!r}: lease of {fence.holder} ran out")


class LeaseStore(StoreBase):
    def acquire_lease(self, account: str, holder: str, ttl_s: float) -> LeaseRecord | None:
        """Take or keep the account's lease for ``ttl_s`` seconds: the lease, or None while
        another holder's lease is still running. Taking it from another holder (or again
        after it ran out) raises the epoch; renewing a running lease of one's own keeps it."""
        ttl = timedelta(seconds=ttl_s)
        with self._writing() as connection:
            now = database_now(connection)
            row = connection.execute(_LEASE_FOR_UPDATE, {"b_account": account}).one_or_none()
            if row is None:
                lease = LeaseRecord(
                    account=account,
                    holder=holder,
                    epoch=1,
                    acquired_at=now,
                    renewed_at=now,
                    expires_at=now + ttl,
                )
                try:
                    with connection.begin_nested():
                        connection.execute(_INSERT_LEASE, asdict(lease))
                except IntegrityError:  # another replica inserted the first row meanwhile
                    return None
                return lease
            running = row.expires_at > now
            if running and row.holder != holder:
                return None
            changed = {"holder": holder, "renewed_at": now, "expires_at": now + ttl}
            if not running or row.holder != holder:
                changed.update(epoch=row.epoch + 1, acquired_at=now)
            connection.execute(_UPDATE_LEASE, {"b_account": account, **changed})
            row = connection.execute(_LEASE, {"b_account": account}).one()
            return _record(LeaseRecord, row)

    def renew_lease(self, fence: Fence, ttl_s: float) -> LeaseRecord | None:
        """Extend a running lease we hold; None when it ran out or changed hands (then the
        holder must stop acting for the account and may try `acquire_lease` again)."""
        with self._writing() as connection:
            try:
                check_fence(connection, fence)
            except StaleLease:
                return None
            now = database_now(connection)
            changed = {"renewed_at": now, "expires_at": now + timedelta(seconds=ttl_s)}
            connection.execute(_UPDATE_LEASE, {"b_account": fence.account, **changed})
            row = connection.execute(_LEASE, {"b_account": fence.account}).one()
            return _record(LeaseRecord, row)

    def release_lease(self, fence: Fence) -> bool:
        """Give a lease up (a clean shutdown) so another replica need not wait for it to run
        out; False when it had already changed hands."""
        params = {"b_account": fence.account, "b_holder": fence.holder, "b_epoch": fence.epoch}
        with self._writing() as connection:
            return bool(connection.execute(_RELEASE, params).rowcount)

    def get_lease(self, account: str) -> LeaseRecord | None:
        with self._querying() as connection:
            row = connection.execute(_LEASE, {"b_account": account}).one_or_none()
            return None if row is None else _record(LeaseRecord, row)

    def leases(self) -> list[LeaseRecord]:
        """Every account's lease (running or run out), by account."""
        with self._querying() as connection:
            rows = connection.execute(select(_LEASES).order_by(_LEASES.c.account))
            return [_record(LeaseRecord, row) for row in rows]

    def wake_owner(self, account: str) -> None:
        """Wake the replica that owns ``account`` (PostgreSQL ``NOTIFY``, sent on commit: in a
        `batch` it goes with the batch; see `wakeups.py`). Nothing on SQLite."""
        with self._writing() as connection:
            notify_account(connection, account)

    def database_time(self) -> datetime:
        """The clock leases are measured by (see `database_now`)."""
        with self._querying() as connection:
            return database_now(connection)
