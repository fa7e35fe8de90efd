"""Who may act for an account: the seam between the journal and the account leases.

The journal asks its `Lease` for a `Fence` before it records an order intent (the store
refuses the intent if that fence is stale, see `store/leases.py`) and asks it again right
before it sends (`check`), so a replica that lost an account stops acting for it at the next
order, not at the next renewal.

- `SoleOwner`: one process on its own store (SQLite, or PostgreSQL with one replica): it owns
  every account; no fence is written and nothing is checked.
- `ReplicaLeases`: one of several replicas on a shared PostgreSQL database. It holds the
  leases it took with `refresh` (take free or lapsed ones, renew its own) and trusts each only
  until a local deadline: the lease's length, counted on this process's monotonic clock from
  *before* the call that took or renewed it, less a safety margin. A process that was paused
  past that deadline (SIGSTOP, a stalled VM) finds the lease gone on waking, before any send;
  and if it was paused between that check and the send, the intent was already refused or,
  written in time, is the new owner's to resolve by its client order id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tradeexec.exchanges.interface import RequestWithheld
from tradeexec.store.leases import Fence, LeaseRecord, StaleLease
from tradeexec.store.repository import Store

__all__ = ["Lease", "LeaseLost", "ReplicaLeases", "SoleOwner", "Takeover"]


class LeaseLost(StaleLease, RequestWithheld):
    """This replica does not (or no longer) hold the account's lease: do not act for it.
    Also what a trader's send gate raises (`RequestWithheld`): the request was not sent."""


class Lease:
    """The interface the journal consults; the base class is `SoleOwner`'s behaviour."""

    def owns(self, account: str) -> bool:
        return True

    def fence(self, account: str) -> Fence | None:
        """The fence an intent for ``account`` is written under (None: unfenced)."""
        return None

    def check(self, account: str) -> None:
        """Raise `LeaseLost` unless this process may still act for ``account``."""


class SoleOwner(Lease):
    """One process on its own store: it owns every account."""


SOLE_OWNER = SoleOwner()


@dataclass(frozen=True, slots=True)
class Takeover:
    """A lease this replica has just taken: the account needs recovery and a reconcile
    before it executes anything new. ``waited_s``: how long the lease was out of anyone's
    hands (since the previous holder's last renewal ran out), when known."""

    lease: LeaseRecord
    waited_s: float | None
    previous: LeaseRecord | None = None  # the row as it was before (None: no row)

    @property
    def reason(self) -> str:
        """``taken_over`` from another replica, or ``acquired`` (a free or own lapsed one)."""
        if self.previous is not None and self.previous.holder != self.lease.holder:
            return "taken_over"
        return "acquired"


@dataclass
class ReplicaLeases(Lease):
    """The leases of one replica (``replica_id``) on a shared database; see the module
    docstring. ``ttl_s`` is the lease's length; `refresh` should run every ``ttl_s / 3``."""

    store: Store
    replica_id: str
    ttl_s: float = 10.0
    margin_s: float = 1.0
    #: told of every change, from the thread that made it: ``(account, reason)`` with reason
    #: ``acquired`` / ``taken_over`` / ``lost`` (a renewal refused) / ``released``
    on_change: Callable[[str, str], None] | None = None
    _held: dict[str, tuple[LeaseRecord, float]] = field(default_factory=dict)
    _renewer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="tradeexec-leases")
    )

    def _changed(self, account: str, reason: str) -> None:
        if self.on_change is not None:
            self.on_change(account, reason)

    def owns(self, account: str) -> bool:
        held = self._held.get(account)
        return held is not None and time.monotonic() < held[1]

    def fence(self, account: str) -> Fence:
        self.check(account)
        return self._held[account][0].fence

    def check(self, account: str) -> None:
        if not self.owns(account):
            raise LeaseLost(f"replica {self.replica_id} does not hold account {account!r}")

    @property
    def held(self) -> dict[str, LeaseRecord]:
        return {account: lease for account, (lease, _) in self._held.items()}

    def refresh_sync(self, accounts: list[str]) -> list[Takeover]:
        """Renew the leases held, try to take the others; the ones newly taken."""
        taken: list[Takeover] = []
        for account in accounts:
            started = time.monotonic()
            held = self._held.get(account)
            before = None if held is not None else self.store.get_lease(account)
            if held is not None:
                lease = self.store.renew_lease(held[0].fence, self.ttl_s)
                if lease is None:  # ran out or changed hands: take it again if we can
                    del self._held[account]
                    self._changed(account, "lost")
                    before = self.store.get_lease(account)
                    lease = self.store.acquire_lease(account, self.replica_id, self.ttl_s)
            else:
                lease = self.store.acquire_lease(account, self.replica_id, self.ttl_s)
            if lease is None:
                self._held.pop(account, None)
                continue
            self._held[account] = (lease, started + self.ttl_s - self.margin_s)
            if held is None or held[0].epoch != lease.epoch:
                waited = None
                if before is not None and before.holder != self.replica_id:
                    waited = max(0.0, (lease.acquired_at - before.expires_at).total_seconds())
                takeover = Takeover(lease, waited, before)
                self._changed(account, takeover.reason)
                taken.append(takeover)
        return taken

    async def refresh(self, accounts: list[str]) -> list[Takeover]:
        """`refresh_sync` on a thread of its own: the store calls of a busy pipeline queue up
        on the default executor, and a renewal waiting behind them could let the lease lapse."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._renewer, self.refresh_sync, accounts)

    def release_all(self) -> None:
        """Give every lease up (a clean shutdown): the next replica need not wait."""
        for lease, _ in list(self._held.values()):
            self.store.release_lease(lease.fence)
            self._changed(lease.account, "released")
        self._held.clear()
        self._renewer.shutdown(wait=False)
