"""A signal whose record rides on the first commit its execution makes.

A caller that waits for the outcome (REST's default, MCP, the CLI, the Python API, the plugin)
needs no answer before the signal is decided, so its record need not be a commit of its own:
`Pipeline` reads the facts and decides, then records the signal in the same transaction as
what it decided (the decision with the entry's intent, fsync'd before anything is sent; a
refusal; a failure of the reads). Nothing is sent before that commit, so no order can exist
without its signal's record; a crash before it leaves nothing recorded and nothing sent, and
the caller, never answered, sends the signal again (its idempotency key makes that safe).

The unique key still decides: a key recorded already (by another process, a re-delivery
after a restart) makes that commit write nothing else, and `AlreadyRecorded` hands the
signal back to the intake's re-delivery path. A signal accepted for the background (a webhook
alert, REST ``wait=false``) or handed to another replica is recorded durably at once, as
before: its answer says it is durable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: the store steps of one commit, built for the signal's id once it is known
Steps = Callable[[int], list[Callable[[], Any]]]


class AlreadyRecorded(Exception):
    """The key was recorded before this delivery: nothing of this run was written."""

    def __init__(self, signal_id: int) -> None:
        super().__init__(f"signal {signal_id} was recorded before")
        self.signal_id = signal_id


class SignalRef:
    """A signal's id, or the store step that records it with the first commit (`batch`)."""

    def __init__(
        self, signal_id: int | None = None, record: Callable[[], Any] | None = None
    ) -> None:
        assert (signal_id is None) != (record is None)
        self.signal_id = signal_id
        self._record = record

    @property
    def pending(self) -> bool:
        return self.signal_id is None

    @property
    def id(self) -> int:
        assert self.signal_id is not None, "the signal is not recorded yet"
        return self.signal_id

    def batch(self, steps: Steps) -> tuple[Callable[[], Any], ...]:
        """The steps of one commit: ``steps`` for the known id, or one step that records the
        signal, then runs ``steps`` for its new id (and nothing more if the key was taken)."""
        if self._record is None:
            return tuple(steps(self.id))
        return (RecordedThen(self._record, steps),)

    def settle(self, results: list[Any]) -> list[Any]:
        """The results of `batch`'s commit: ``steps``' results; `AlreadyRecorded` if the key
        was taken (that commit wrote nothing)."""
        if self._record is None:
            return results
        ((signal_id, created, *rest),) = results
        if not created:
            raise AlreadyRecorded(signal_id)
        self.signal_id, self._record = int(signal_id), None
        return list(rest)


class RecordedThen:
    """One store step: record the signal, then run ``then``'s steps for its id (``ran``: the
    steps it ran, the record's first), unless the key was taken already."""

    __name__ = "record_signal+"  # its name in a batch's description (the benchmark's)

    def __init__(self, record: Callable[[], Any], then: Steps) -> None:
        self.record = record
        self.then = then
        self.ran: list[Callable[[], Any]] = []

    def __call__(self) -> list[Any]:
        signal_id, created = self.record()
        self.ran = [self.record]
        if not created:
            return [int(signal_id), False]
        self.ran += self.then(int(signal_id))
        return [int(signal_id), True, *(step() for step in self.ran[1:])]


__all__ = ["AlreadyRecorded", "RecordedThen", "SignalRef", "Steps"]
