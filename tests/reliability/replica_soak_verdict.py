"""The replica soak's configuration, its result and summary, and its own check beyond the
shared `soak_check`: ``h_sent_after_lease_lost`` (the simulator's request log holds an order
or a cancel from a paused replica after its lease moved on) and ``h_not_taken_over``.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability.replica_soak_cluster import is_order_write, tag_of
from reliability.soak_check import Verdict
from tradeexec.store.records import EventRecord


@dataclass(frozen=True)
class ReplicaSoakConfig:
    seed: int = 7
    signals: int = 120
    kills: int = 1
    stops: int = 1
    replicas: int = 3
    batch: int = 20
    ttl_s: float = 2.0
    reconcile_s: float = 1.0
    duplicate_rate: float = 0.15  # signals delivered to two replicas at once
    webhook_share: float = 0.5  # of the signals a TradingView alert can express
    wait_share: float = 0.5  # of the REST signals: POST /signals?wait=true


@dataclass
class Disruption:
    kind: str  # "kill" | "stop"
    replica: str
    tag: int
    at: float  # wall clock, seconds
    taken: float | None = None  # when the lease moved on (the new epoch's acquired_at)
    ended: float | None = None  # restarted / resumed

    def describe(self) -> str:
        took = "never" if self.taken is None else f"{self.taken - self.at:.2f}s"
        return f"{self.kind} {self.replica}: lease moved on after {took}"


@dataclass
class ReplicaSoakResult:
    config: ReplicaSoakConfig
    workdir: Path
    verdict: Verdict = field(default_factory=Verdict)
    counts: Counter[str] = field(default_factory=Counter)
    disruptions: list[Disruption] = field(default_factory=list)
    takeovers_s: list[float] = field(default_factory=list)  # takeover_complete events
    reconciles_s: list[float] = field(default_factory=list)  # their first reconcile's length
    requests_by_tag: Counter[int] = field(default_factory=Counter)  # Binance, per replica
    no_answers: Counter[str] = field(default_factory=Counter)  # deliveries without an answer
    # 500 answers (account, key, what was answered): always a violation
    internal_errors: list[tuple[str, str, str]] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.verdict.violations

    def summary(self) -> str:
        c, t, r = self.counts, sorted(self.takeovers_s), sorted(self.reconciles_s)
        times = "none"
        if t:
            times = (
                f"p50 {statistics.median(t):.2f}s max {t[-1]:.2f}s over {len(t)} (of which "
                f"the reconcile p50 {statistics.median(r):.2f}s max {r[-1]:.2f}s)"
            )
        return "\n".join(
            [
                f"replica soak seed={self.config.seed} replicas={self.config.replicas} "
                f"signals={c['signals']} batches={c['batches']} in {self.elapsed_s:.1f}s "
                f"(lease {self.config.ttl_s}s; workdir {self.workdir})",
                f"  deliveries={c['deliveries']} (webhook={c['webhook']} rest={c['rest']} "
                f"rest_wait={c['rest_wait']} concurrent copies={c['copies']} "
                f"no answer={c['no_answer']} {dict(self.no_answers)} "
                f"re-deliveries={c['redeliveries']} "
                f"final re-polls={c['repolls']}) kills={c['kills']} stops={c['stops']}",
                *(f"  {d.describe()}" for d in self.disruptions),
                f"  takeover (last renewal -> first reconcile of the new owner): {times}",
                f"  paused replica after its lease moved on: {c['paused_requests_after']} "
                f"requests, {c['paused_writes_after']} order writes; Binance requests by "
                f"replica tag {dict(sorted(self.requests_by_tag.items()))}",
                f"  store statuses {dict(sorted(self.verdict.statuses.items()))}",
                f"  answers {dict(sorted(self.verdict.answers.items()))}",
                *(f"  end: {note}" for note in self.verdict.notes),
                f"  violations={len(self.verdict.violations)} "
                f"{dict(sorted(self.verdict.by_check().items()))}",
            ]
        )

    def failure_text(self, limit: int = 60) -> str:
        shown = [str(v) for v in self.verdict.violations[:limit]]
        more = len(self.verdict.violations) - len(shown)
        return "\n".join([self.summary(), *shown, *([f"... and {more} more"] if more > 0 else [])])


def check_fencing(
    result: ReplicaSoakResult,
    verdict: Verdict,
    log: Iterable[dict[str, Any]],
    lease_taken: Sequence[EventRecord],
    account: str,
) -> None:
    """No order or cancel for ``account`` reached the venue from a paused replica after its
    lease moved on (until it legitimately took the account again, if it did). ``log``: the
    simulator's request log; ``lease_taken``: the account's ``lease_taken`` events."""
    entries = list(log)
    for entry in entries:
        tag = tag_of(entry)
        if tag is not None:
            result.requests_by_tag[tag] += 1
    for d in result.disruptions:
        if d.taken is None:
            verdict.add("h_not_taken_over", account, None, d.describe())
            continue
        if d.kind != "stop":
            continue
        again = [
            e.at.timestamp() for e in lease_taken
            if e.data.get("replica") == d.replica and e.at.timestamp() > d.taken
        ]  # fmt: skip
        until = min(again, default=float("inf"))
        for entry in entries:
            at = entry["time"] / 1000
            if tag_of(entry) != d.tag or not d.taken < at < until:
                continue
            result.counts["paused_requests_after"] += 1
            if is_order_write(entry):
                result.counts["paused_writes_after"] += 1
                detail = (
                    f"{d.replica}: {entry['method']} {entry['path']} "
                    f"{at - d.taken:.2f}s after its lease moved on"
                )
                verdict.add("h_sent_after_lease_lost", account, None, detail)
