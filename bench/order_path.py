"""The order path: one signal through ``TradingService.submit_signal`` versus raw ccxt making
the same exchange calls, against the same simulator, in the same run.

tradeexec (A): ``submit_signal(Signal(BUY 0.01 BTC, stop_loss, take_profit))`` with a SQLite
store in a temp dir and a fresh idempotency key per iteration: the gate, the facts (ticker,
balance, positions and the store's own facts, read concurrently), sizing, the risk checks,
the store writes (signal, decision, each order's intent before it is sent and its
acknowledgement after, events), the market entry, then its stop-loss and take-profit.

raw ccxt (B): exactly the ccxt calls tradeexec made, on a plain ``ccxt.async_support``
instance. After warm-up, one tradeexec signal is run with its ccxt instance's top-level calls
recorded (method, arguments, start and end); B replays that plan each iteration: the same
methods with the same arguments (fresh client order ids), concurrently where tradeexec's
calls overlapped, in the same order. So B stays "the same calls" whatever the pipeline
fetches, and the difference is what tradeexec adds: the store, the checks, its parsing. No
store, no checks in B.

The per-signal request lists of both sides are read from the simulator's request log once
(after warm-up) and compared; the results say whether they matched.

Both sides are timed around exactly their per-signal work (A includes building the
``Signal``). Every ``CLEANUP_EVERY`` (4) signals, untimed, each side cancels its resting
stops and targets and closes its position with its own ccxt instance, so the venues'
open-order limits never trip; both sides go through the same cycle. A and B alternate
(ABBA...), and several venues in one run are interleaved, to cancel drift. Each side has its own
simulator account. The simulator runs in a separate process, so its CPU
work (HTTP, HMAC / EIP-712 signature checks, matching) does not share the client's event loop
or GIL. CPU time of the client process (``time.process_time``, all threads) per iteration is
recorded too: it is less disturbed by other load on the machine than wall time.

    python bench/order_path.py [--venue binance|hyperliquid] [--iterations 150] [--warmup 5]
        [--budget 55] [--profile | --profile-only] [--profile-iterations 30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import copy
import inspect
import json
import re
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import _benchlib as lib

VENUES = ("binance", "hyperliquid")
ACCOUNT = {"binance": "bn", "hyperliquid": "hl"}
SYMBOL = {"binance": "BTC/USDT:USDT", "hyperliquid": "BTC/USDC:USDC"}
MARK = Decimal("67500")
QTY = Decimal("0.01")
STOP = Decimal("60000")
TAKE = Decimal("75000")
FUNDING = 10_000_000  # far more than N iterations' fees and margin need
# issue 12's targets for tradeexec / raw ccxt at p50: on loopback per venue, and with a
# simulated venue latency (a latency fault on every request) for both
TARGETS = {"binance": 1.25, "hyperliquid": 0.85}
TARGET_WITH_LATENCY = 1.05


def target_ratio(venue: str, latency_ms: float) -> float:
    return TARGET_WITH_LATENCY if latency_ms else TARGETS[venue]


# --------------------------------------------------------------------------- tradeexec side


def app_config(sim: lib.SimProcess, creds: dict[str, dict[str, str]], tmp: Path) -> Any:
    """Both accounts on the simulator; limits generous enough that nothing is refused."""
    from tradeexec.config import AccountConfig, AppConfig

    bn, hl = creds["binance"], creds["hyperliquid"]
    return AppConfig(
        accounts={
            "bn": AccountConfig(
                type="binance", api_key=bn["apiKey"], api_secret=bn["secret"], api_url=sim.base_url
            ),
            "hl": AccountConfig(
                type="hyperliquid",
                wallet_address=hl["walletAddress"],
                private_key=hl["privateKey"],
                api_url=sim.base_url,
            ),
        },
        store_url=f"sqlite:///{tmp / 'bench.db'}",
        market_cache_dir=str(tmp / "markets"),
        risk=bench_risk(),
    )


def bench_risk() -> Any:
    """Limits generous enough that no benchmark signal is refused."""
    from tradeexec.config import RiskConfig

    return RiskConfig(
        min_confidence=0.0,
        max_order_notional=None,
        max_position_notional=None,
        max_open_positions=None,
        max_orders_per_minute=1_000_000,
        price_band_pct=Decimal("0.5"),
    )


class TradeexecSide:
    name = "tradeexec"

    def __init__(self, service: Any, venue: str, run_id: str) -> None:
        self.service, self.venue, self.run_id = service, venue, run_id
        self.count = 0

    async def signal(self) -> dict[str, Any]:
        """The timed part: build the signal and submit it."""
        from tradeexec.domain import OrderSide, SignalSource
        from tradeexec.execution.signals import Signal

        self.count += 1
        report = await self.service.submit_signal(
            Signal(
                symbol=SYMBOL[self.venue],
                source=SignalSource.API,
                idempotency_key=f"bench-{self.run_id}-{self.venue}-{self.count}",
                created_at=datetime.now(UTC),
                account=ACCOUNT[self.venue],
                side=OrderSide.BUY,
                quantity=QTY,
                stop_loss=STOP,
                take_profit=TAKE,
                confidence=0.9,
            )
        )
        ok = (
            report.status == "filled"
            and {"entry", "stop_loss", "take_profit"} <= set(report.orders)
            and not report.warnings
        )
        return {
            "ok": ok,
            "detail": f"{report.status} {report.reason or ''} {report.error or ''}".strip(),
            "triggers": [report.orders[r].id for r in ("stop_loss", "take_profit")] if ok else [],
        }

    async def exchange(self) -> Any:
        return (await self.service.manager.get(ACCOUNT[self.venue])).exchange


# --------------------------------------------------------------------------- raw ccxt side


@dataclass(frozen=True)
class Call:
    """One top-level ccxt call tradeexec made: method, arguments, and when it ran."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    started: float
    ended: float


_CCXT_METHOD = re.compile(r"^(fetch|create|cancel|edit|set)_")


class CallRecorder:
    """Records the top-level calls made on one ccxt instance (calls ccxt makes inside them,
    like ``load_markets`` or ``fetch2``, are not recorded), for the duration of a block."""

    def __init__(self, ex: Any) -> None:
        self.ex = ex
        self.calls: list[Call] = []
        self._inside: contextvars.ContextVar[bool] = contextvars.ContextVar("inside", default=False)
        self._wrapped: list[str] = []

    def __enter__(self) -> CallRecorder:
        for name in dir(type(self.ex)):
            if _CCXT_METHOD.match(name) and inspect.iscoroutinefunction(
                getattr(type(self.ex), name, None)
            ):
                setattr(self.ex, name, self._recording(name, getattr(self.ex, name)))
                self._wrapped.append(name)
        return self

    def __exit__(self, *_exc: object) -> None:
        for name in self._wrapped:
            delattr(self.ex, name)  # back to the class's method
        self._wrapped = []

    def _recording(self, name: str, original: Callable[..., Awaitable[Any]]) -> Any:
        async def recorded(*args: Any, **kwargs: Any) -> Any:
            if self._inside.get():
                return await original(*args, **kwargs)
            token = self._inside.set(True)
            snapshot = copy.deepcopy((args, kwargs))
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self._inside.reset(token)
                self.calls.append(Call(name, *snapshot, started, time.perf_counter()))

        return recorded

    def stages(self) -> list[list[Call]]:
        """The calls in the order they started; calls that overlapped in time (tradeexec
        gathered them) form one stage, to be run concurrently again."""
        stages: list[list[Call]] = []
        end = float("-inf")
        for call in sorted(self.calls, key=lambda c: c.started):
            if not stages or call.started >= end:
                stages.append([])
                end = float("-inf")
            stages[-1].append(call)
            end = max(end, call.ended)
        return stages


def _fresh_ids(value: Any, venue: str) -> Any:
    """A deep copy with every ``clientOrderId`` replaced by a new one of the venue's format
    (a client order id can be used once)."""
    if isinstance(value, dict):
        return {
            k: _client_id(venue) if k == "clientOrderId" else _fresh_ids(v, venue)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_fresh_ids(v, venue) for v in value)
    return copy.deepcopy(value)


def _client_id(venue: str) -> str:
    return "0x" + secrets.token_hex(16) if venue == "hyperliquid" else "raw" + secrets.token_hex(14)


async def learn_plan(side: TradeexecSide) -> tuple[list[list[Call]], dict[str, Any]]:
    """Run one tradeexec signal recording its ccxt calls: the plan raw ccxt replays."""
    ex = await side.exchange()
    with CallRecorder(ex) as recorder:
        outcome = await side.signal()
    if not outcome["ok"]:
        raise RuntimeError(f"the signal to learn from failed: {outcome['detail']}")
    return recorder.stages(), outcome


def describe_plan(stages: list[list[Call]]) -> list[str]:
    return [" + ".join(c.name for c in stage) for stage in stages]


class RawSide:
    """Raw ccxt making exactly the calls tradeexec made for one signal (learned with
    `learn_plan`): same methods, same arguments (fresh client order ids), concurrent where
    tradeexec's were, in the same order. No store, no checks, no parsing beyond ccxt's."""

    name = "raw ccxt"

    def __init__(self, ex: Any, venue: str, plan: list[list[Call]] | None = None) -> None:
        self.ex, self.venue = ex, venue
        self.plan = plan or []

    async def signal(self) -> dict[str, Any]:
        """The timed part."""
        if not self.plan:
            raise RuntimeError("no plan: learn one from tradeexec first")
        orders: list[dict[str, Any]] = []
        for stage in self.plan:
            results = await self.stage(stage)
            orders += [r for c, r in zip(stage, results, strict=True) if c.name == "create_order"]
        entry = orders[0] if orders else {}
        amount = next(c.args[3] for st in self.plan for c in st if c.name == "create_order")
        # a filled IOC on Hyperliquid parses with status None; "filled" is what both report
        ok = len(orders) == 3 and entry.get("filled") == amount and all(o.get("id") for o in orders)
        return {
            "ok": ok,
            "detail": f"{len(orders)} orders, entry filled {entry.get('filled')} of {amount}",
            "triggers": [o["id"] for o in orders[1:]],
        }

    async def stage(self, calls: list[Call]) -> list[Any]:
        coros = [
            getattr(self.ex, c.name)(
                *_fresh_ids(c.args, self.venue), **_fresh_ids(c.kwargs, self.venue)
            )
            for c in calls
        ]
        if len(coros) == 1:
            return [await coros[0]]
        return list(await asyncio.gather(*coros))

    async def exchange(self) -> Any:
        return self.ex


async def cleanup(ex: Any, venue: str, trigger_ids: list[str], signals: int = 1) -> None:
    """Untimed: cancel the resting stops and targets, close the position ``signals`` opened."""
    sym = SYMBOL[venue]
    qty = float(QTY * signals)
    if venue == "binance":
        await ex.cancel_all_orders(sym, {"trigger": True})
        await ex.create_order(sym, "market", "sell", qty, None, {"reduceOnly": True})
    else:
        if trigger_ids:
            await ex.cancel_orders(trigger_ids, sym)
        await ex.create_order(sym, "market", "sell", qty, float(MARK), {"reduceOnly": True})


# --------------------------------------------------------------------------- the run


async def _timed(
    call: Callable[[], Awaitable[dict[str, Any]]],
) -> tuple[float, float, dict[str, Any]]:
    cpu0, t0 = time.process_time(), time.perf_counter()
    outcome = await call()
    return time.perf_counter() - t0, time.process_time() - cpu0, outcome


def _shape(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Reads as a multiset (they run concurrently), writes in order."""
    described = [lib.describe_request(e) for e in entries]
    writes = [
        d
        for d in described
        if d.startswith(("POST /fapi/v1/order", "POST /fapi/v1/algo", "POST /exchange"))
    ]
    return {
        "all": described,
        "reads": Counter(d for d in described if d not in writes),
        "writes": writes,
    }


# Signals per side between two cleanups. Binance allows 10 open conditional orders per
# symbol and each signal leaves 2, so at most 4 fit; batching keeps the untimed work (and so
# the run time) down without letting any limit trip. Both sides follow the same cycle.
CLEANUP_EVERY = 4


class Lane:
    """One side on one venue: its samples, failures, and what it left on the venue."""

    def __init__(self, side: Any, venue: str) -> None:
        self.side, self.venue = side, venue
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.failures: list[str] = []
        self.triggers: list[str] = []
        self.held = 0  # signals since the last cleanup
        self.exchange: Any = None

    async def one(self, timed: bool, *, flush: bool = False) -> dict[str, Any]:
        if self.exchange is None:
            self.exchange = await self.side.exchange()
        wall, cpu, outcome = await _timed(self.side.signal)
        if not outcome["ok"]:
            self.failures.append(f"{self.side.name}: {outcome['detail']}")
        elif timed:
            self.wall.append(wall)
            self.cpu.append(cpu)
        self.triggers += outcome["triggers"]
        self.held += 1
        if flush or self.held >= CLEANUP_EVERY:
            await self.flush()
        return outcome

    async def flush(self) -> None:
        if self.held:
            await cleanup(self.exchange, self.venue, self.triggers, self.held)
        self.triggers, self.held = [], 0


async def _ab(
    sim: lib.SimProcess,
    lanes: dict[str, tuple[Lane, Lane]],
    iterations: int,
    warmup: int,
    deadline: float,
) -> dict[str, dict[str, Any]]:
    """Warm up, log one signal per side, then alternate A/B (ABBA) with the venues
    interleaved too, so both venues get the same count and drift hits all alike."""
    shapes: dict[str, dict[str, Any]] = {}
    plans: dict[str, list[str]] = {}
    for venue, pair in lanes.items():
        te, raw = pair
        for _ in range(warmup):  # tradeexec first: its steady-state calls are the plan
            await te.one(timed=False)
        await te.flush()
        stages, outcome = await learn_plan(te.side)
        te.triggers, te.held = outcome["triggers"], 1
        await te.flush()
        raw.side.plan = stages
        plans[venue] = describe_plan(stages)
        for _ in range(warmup):
            await raw.one(timed=False)
        for lane in pair:
            await lane.flush()
            marker = sim.mark()
            await lane.one(timed=False, flush=False)
            shapes[f"{venue}/{lane.side.name}"] = _shape(sim.requests_since(marker))
            await lane.flush()
    truncated = False
    for i in range(iterations):
        if time.monotonic() > deadline:
            truncated = True
            break
        for pair in lanes.values():
            for lane in pair if i % 2 == 0 else pair[::-1]:
                await lane.one(timed=True)
    out = {}
    for venue, pair in lanes.items():
        for lane in pair:
            await lane.flush()
        a, b = (shapes[f"{venue}/{lane.side.name}"] for lane in pair)
        out[venue] = {
            "samples": {lane.side.name: {"wall": lane.wall, "cpu": lane.cpu} for lane in pair},
            "failures": [f for lane in pair for f in lane.failures],
            "requests": {
                lane.side.name: shapes[f"{venue}/{lane.side.name}"]["all"] for lane in pair
            },
            "same_requests": a["reads"] == b["reads"] and a["writes"] == b["writes"],
            "plan": plans[venue],
            "truncated": truncated,
        }
    return out


def _summary(venue: str, got: dict[str, Any], latency_ms: float = 0.0) -> dict[str, Any]:
    row: dict[str, Any] = {"venue": venue}
    if latency_ms:
        row["label"] = f" +{latency_ms:g} ms venue latency"
    for side, data in got["samples"].items():
        if not data["wall"]:
            row[side] = None
            continue
        wall, cpu = lib.summarize(data["wall"]), lib.summarize(data["cpu"])
        row[side] = {
            "n": wall["n"],
            "p50_ms": lib.ms(wall["median"]),
            "p90_ms": lib.ms(wall["p90"]),
            "p99_ms": lib.ms(wall["p99"]),
            "cpu_p50_ms": lib.ms(cpu["median"]),
        }
    a, b = row.get("tradeexec"), row.get("raw ccxt")
    if a and b:
        row["ratio_p50"] = round(a["p50_ms"] / b["p50_ms"], 3)
        row["ratio_p99"] = round(a["p99_ms"] / b["p99_ms"], 3)
        row["cpu_ratio_p50"] = round(a["cpu_p50_ms"] / b["cpu_p50_ms"], 3)
        row["extra_p50_ms"] = round(a["p50_ms"] - b["p50_ms"], 2)
        row["target"] = target_ratio(row["venue"], latency_ms)
        row["target_met"] = row["ratio_p50"] <= row["target"]
    row.update(
        failures=got["failures"],
        all_succeeded=not got["failures"],
        same_requests=got["same_requests"],
        requests=got["requests"],
        ccxt_calls=got["plan"],
        truncated=got["truncated"],
    )
    return row


@contextlib.asynccontextmanager
async def _setup(
    sim_process: lib.SimProcess | None,
) -> AsyncIterator[tuple[lib.SimProcess, Any, dict[str, Any], str]]:
    """A simulator process, a TradingService on a temp-dir SQLite store with one account per
    venue, and raw ccxt instances on separate accounts; everything connected."""
    from ready import raw_exchange  # the same raw configuration as the ready benchmark

    from tradeexec.service import TradingService

    with (
        lib.simulator(sim_process) as sim,
        tempfile.TemporaryDirectory(prefix="bench-order-") as tmp,
    ):
        sim.set_price("BTC", str(MARK))
        te_creds = {v: sim.create_account(v, FUNDING) for v in VENUES}
        raw_creds = {v: sim.create_account(v, FUNDING) for v in VENUES}
        service = TradingService(app_config(sim, te_creds, Path(tmp)))
        raws = {v: raw_exchange(v, raw_creds[v], sim.base_url) for v in VENUES}
        try:
            await service.start()
            for v in VENUES:
                await raws[v].load_markets()
                await service.manager.get(ACCOUNT[v])
            yield sim, service, raws, secrets.token_hex(4)
        finally:
            for ex in raws.values():
                await ex.close()
            await service.stop()


async def _run(
    iterations: int,
    warmup: int,
    budget_s: float,
    sim_process: lib.SimProcess | None,
    venues: tuple[str, ...],
    latency_ms: float = 0.0,
) -> dict[str, Any]:
    started = time.monotonic()
    async with _setup(sim_process) as (sim, service, raws, run_id):
        if latency_ms:  # every venue request waits this long in the simulator (both sides)
            fault = {"route": "*", "kind": "latency", "seconds": latency_ms / 1000}
            sim.control("POST", "/_sim/faults", fault)
        lanes = {
            v: (Lane(TradeexecSide(service, v, run_id), v), Lane(RawSide(raws[v], v), v))
            for v in venues
        }
        got = await _ab(sim, lanes, iterations, warmup, started + budget_s)
    return {
        "rows": [_summary(v, got[v], latency_ms) for v in venues],
        "latency_ms": latency_ms,
        "simulator": "separate process",
        "iterations_asked": iterations,
        "warmup": warmup,
        "cleanup_every": CLEANUP_EVERY,
    }


def run(
    iterations: int = 150,
    warmup: int = 5,
    budget_s: float = 55.0,
    sim: lib.SimProcess | None = None,
    venues: tuple[str, ...] = VENUES,
    latency_ms: float = 0.0,
) -> dict[str, Any]:
    """``venues`` (interleaved when several) within ``budget_s`` (fewer iterations than
    asked, flagged ``truncated``, if it runs out); on ``sim`` if given, else on a simulator
    of its own; ``latency_ms``: a latency fault on every venue request."""
    return asyncio.run(_run(iterations, warmup, budget_s, sim, tuple(venues), latency_ms))


# --------------------------------------------------------------------------- attribution


class Spans:
    """Per-label samples: awaited wall time on the loop, and for work that runs in a worker
    thread (the store) that thread's own wall and CPU time."""

    def __init__(self) -> None:
        self.awaited: dict[str, list[float]] = {}
        self.thread_wall: dict[str, list[float]] = {}
        self.thread_cpu: dict[str, list[float]] = {}
        self.active = False  # only the signal itself is recorded, not the cleanup after it

    def wrap_async(self, owner: Any, attr: str, label: Callable[..., str]) -> Callable[[], None]:
        """Time every await of ``owner.attr``; returns the undo."""
        original = getattr(owner, attr)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            key = label(*args, **kwargs)
            t0 = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                if self.active:
                    self.awaited.setdefault(key, []).append(time.perf_counter() - t0)

        setattr(owner, attr, timed)
        return lambda: delattr(owner, attr)  # the instance attribute goes; the class's is back

    def in_thread(self, key: Callable[[], str], fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` measuring its own wall and CPU time in whatever thread runs it, filed under
        ``key()`` read once it ran (a batch's steps may be known only then)."""

        def measured(*args: Any, **kwargs: Any) -> Any:
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.active:
                    name = key()
                    self.thread_cpu.setdefault(name, []).append(time.thread_time() - c0)
                    self.thread_wall.setdefault(name, []).append(time.perf_counter() - w0)

        return measured

    def wrap_store(self, store: Any) -> Callable[[], None]:
        """Every call the store's writer thread runs (`StoreThread.submit`: the typed front's
        methods, `Journal.db` and every `write` batch alike): awaited on the loop, and its
        own wall and CPU time inside the thread, so queueing, hand-off and disk sync show as
        the differences."""
        thread = store.thread
        original = thread.submit

        def submit(fn: Callable[[], Any], **kwargs: Any) -> Any:  # urgent=...
            def key() -> str:
                return f"store: {_job_label(fn)}"

            t0 = time.perf_counter()
            future = original(self.in_thread(key, fn), **kwargs)
            if self.active:

                def done(_: Any) -> None:
                    self.awaited.setdefault(key(), []).append(time.perf_counter() - t0)

                future.add_done_callback(done)
            return future

        thread.submit = submit
        return lambda: delattr(thread, "submit")

    def wrap_sync(self, owner: Any, attr: str, key: str) -> Callable[[], None]:
        setattr(owner, attr, self.in_thread(lambda: key, getattr(owner, attr)))
        return lambda: delattr(owner, attr)

    def table(self, signals: int) -> list[dict[str, Any]]:
        per = 1000 / signals
        keys = sorted(
            set(self.awaited) | set(self.thread_wall),
            key=lambda k: -sum(self.awaited.get(k) or self.thread_wall[k]),
        )
        return [
            {
                "span": k,
                "calls_per_signal": round(
                    len(self.awaited.get(k) or self.thread_wall[k]) / signals, 2
                ),
                "awaited_ms": round(sum(self.awaited[k]) * per, 2) if k in self.awaited else None,
                "thread_wall_ms": round(sum(self.thread_wall[k]) * per, 2)
                if k in self.thread_wall
                else None,
                "thread_cpu_ms": round(sum(self.thread_cpu[k]) * per, 2)
                if k in self.thread_cpu
                else None,
            }
            for k in keys
        ]


_WAITING = ("poll' of 'select.epoll", "selectors.py")


def _job_label(fn: Any) -> str:
    """What a writer-thread job is: a store method's name, or a write batch's steps."""
    steps = getattr(fn, "steps", None)
    if steps is not None:  # `WriteBatch`
        names = "+".join(_job_label(step) for step in steps)
        return f"batch[{'durable' if fn.durable else 'relaxed'}]({names})"
    ran = getattr(fn, "ran", None)  # `RecordedThen`: the signal's record and what rode on it
    if isinstance(ran, list) and ran:
        return "+".join(_job_label(step) for step in ran)
    inner = getattr(fn, "func", fn)  # a partial: the store method it calls
    return str(getattr(inner, "__name__", type(inner).__name__))


def _stage_label(calls: list[Call]) -> str:
    names = [c.name for c in calls]
    return f"facts: gather({', '.join(names)})" if len(names) > 1 else f"exchange: {names[0]}"


async def _attribute_venue(
    service: Any, raw: Any, venue: str, run_id: str, iterations: int, warmup: int
) -> dict[str, Any]:
    import cProfile
    import pstats

    gate = service.gate
    trader = await service.manager.get(ACCOUNT[venue])
    te = TradeexecSide(service, venue, f"{run_id}-prof")
    te.count = 10**6  # keys distinct from the A/B run's
    raw_side = RawSide(raw, venue)

    async def signals(
        side: Any, n: int, spans: Spans | None = None, profiler: Any = None
    ) -> list[tuple[float, float]]:
        exchange = await side.exchange()
        out = []
        for _ in range(n):
            if spans is not None:
                spans.active = True
            if profiler is not None:
                profiler.enable()
            wall, cpu, outcome = await _timed(side.signal)
            if profiler is not None:
                profiler.disable()
            if spans is not None:
                spans.active = False
            if not outcome["ok"]:
                raise RuntimeError(f"{side.name} signal failed: {outcome['detail']}")
            out.append((wall, cpu))
            await cleanup(exchange, venue, outcome["triggers"])
        return out

    await signals(te, warmup)  # untimed: first-use costs (e.g. SQL compilation) out
    stages, outcome = await learn_plan(te)
    await cleanup(trader.exchange, venue, outcome["triggers"])
    raw_side.plan = stages
    await signals(raw_side, warmup)

    # 1. spans: the pipeline's store calls, the gate's facts, the trader's exchange calls
    spans = Spans()
    undo = [
        spans.wrap_store(service.store),
        spans.wrap_sync(gate, "_local_facts", "store: risk facts (state, order rate, PnL)"),
        spans.wrap_async(
            gate,
            "_facts",
            lambda *a, **k: "facts: gather(ticker, balance, positions, store risk facts)",
        ),
        spans.wrap_async(
            trader, "create_order", lambda r: f"exchange: create_order {r.type.value}"
        ),
        spans.wrap_async(trader, "fetch_ticker", lambda *a, **k: "exchange: fetch_ticker"),
    ]
    try:
        te_times = await signals(te, iterations, spans)
    finally:
        for u in undo:
            u()
    raw_spans = Spans()
    raw_undo = [
        raw_spans.wrap_async(raw_side, "stage", _stage_label),
    ]
    try:
        raw_times = await signals(raw_side, iterations, raw_spans)
    finally:
        for u in raw_undo:
            u()

    # 2. cProfile of the same path: where the client's CPU goes (waiting in poll left out)
    profiler = cProfile.Profile()
    await signals(te, iterations, profiler=profiler)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    busy = [(f, row) for f, row in stats.items() if not any(w in str(f) for w in _WAITING)]
    top = sorted(busy, key=lambda kv: kv[1][2], reverse=True)[:12]
    per = 1000 / iterations
    return {
        "iterations": iterations,
        "tradeexec_p50_ms": lib.ms(lib.median([w for w, _ in te_times])),
        "tradeexec_cpu_p50_ms": lib.ms(lib.median([c for _, c in te_times])),
        "raw_p50_ms": lib.ms(lib.median([w for w, _ in raw_times])),
        "raw_cpu_p50_ms": lib.ms(lib.median([c for _, c in raw_times])),
        "spans": spans.table(iterations),
        "raw_spans": raw_spans.table(iterations),
        "cprofile_top_tottime": [
            {
                "function": f"{Path(f[0]).name}:{f[1]}({f[2]})",
                "tottime_ms_per_signal": round(row[2] * per, 2),
                "cumtime_ms_per_signal": round(row[3] * per, 2),
            }
            for f, row in top
        ],
    }


async def _profile(
    iterations: int, warmup: int, sim_process: lib.SimProcess | None
) -> dict[str, Any]:
    out = {}
    async with _setup(sim_process) as (_sim, service, raws, run_id):
        for v in VENUES:
            out[v] = await _attribute_venue(service, raws[v], v, run_id, iterations, warmup)
    return out


def profile(
    iterations: int = 30, warmup: int = 3, sim: lib.SimProcess | None = None
) -> dict[str, Any]:
    """Where does a signal's time go? A separate pass, not part of the A/B numbers:

    1. spans: every store call of the pipeline (awaited on the loop, and inside its worker
       thread: wall and CPU, so thread hand-off and disk sync show as the differences), the
       gate's facts, and the trader's exchange calls; raw ccxt's calls for comparison;
    2. a cProfile of the same path: the client's CPU by function (own time; the wait in
       ``epoll`` left out). cProfile slows Python code, so these are relative, not absolute.
    """
    return asyncio.run(_profile(iterations, warmup, sim))


# --------------------------------------------------------------------------- report


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| venue | side | n | p50 | p90 | p99 | client CPU p50 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        for side in ("tradeexec", "raw ccxt"):
            s = r.get(side)
            if s:
                lines.append(
                    f"| {r['venue']}{r.get('label', '')} | {side} | {s['n']} "
                    f"| {s['p50_ms']:.1f} ms "
                    f"| {s['p90_ms']:.1f} ms | {s['p99_ms']:.1f} ms | {s['cpu_p50_ms']:.1f} ms |"
                )
    lines += [
        "",
        "| venue | tradeexec / raw at p50 | at p99 | extra at p50 | client CPU ratio p50 "
        "| target | every iteration succeeded | same exchange requests |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results["rows"]:
        if "ratio_p50" not in r:
            continue
        lines.append(
            f"| {r['venue']}{r.get('label', '')} | **{r['ratio_p50']:.2f}x** "
            f"| {r['ratio_p99']:.2f}x "
            f"| {r['extra_p50_ms']:.1f} ms | {r['cpu_ratio_p50']:.2f}x "
            f"| <= {r['target']}x: {'met' if r['target_met'] else '**missed**'} "
            f"| {'yes' if r['all_succeeded'] else 'NO: ' + '; '.join(r['failures'][:3])} "
            f"| {'yes' if r['same_requests'] else '**no**'} |"
        )
    lines += [
        "",
        "The ccxt calls per signal (tradeexec's, recorded; raw ccxt replays them, "
        "`+` = concurrent):",
        "",
    ]
    for r in results["rows"]:
        lines.append(f"- {r['venue']}: " + " → ".join(f"`{st}`" for st in r["ccxt_calls"]))
    lines += ["", "Exchange requests per signal (from the simulator's request log):", ""]
    for r in results["rows"]:
        for side, reqs in r["requests"].items():
            counted = Counter(reqs)
            text = ", ".join(f"`{q}`" + (f" x{c}" if c > 1 else "") for q, c in counted.items())
            lines.append(f"- {r['venue']}, {side} ({len(reqs)}): {text}")
    if any(r["truncated"] for r in results["rows"]):
        lines.append("\nThe time budget ran out: fewer iterations than asked (see n).")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _span_table(title: str, spans: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"| {title} | calls / signal | awaited ms | in-thread wall ms | in-thread CPU ms |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s['span']} | {s['calls_per_signal']:g} | {_cell(s['awaited_ms'])} "
        f"| {_cell(s['thread_wall_ms'])} | {_cell(s['thread_cpu_ms'])} |"
        for s in spans
    ]
    return lines


def markdown_profile(profiles: dict[str, Any]) -> str:
    lines: list[str] = []
    for venue, p in profiles.items():
        lines += [
            f"#### {venue}",
            "",
            f"{p['iterations']} signals per side, instrumented (so slower than the A/B run): "
            f"tradeexec p50 {p['tradeexec_p50_ms']:.1f} ms (client CPU "
            f"{p['tradeexec_cpu_p50_ms']:.1f} ms), raw ccxt p50 {p['raw_p50_ms']:.1f} ms "
            f"(client CPU {p['raw_cpu_p50_ms']:.1f} ms). Per signal; spans nest (the facts "
            "span holds its concurrent reads and the store's risk facts).",
            "",
            *_span_table("tradeexec span", p["spans"]),
            "",
            *_span_table("raw ccxt span", p["raw_spans"]),
            "",
            "| function (cProfile; own time, waiting in epoll left out) | own ms / signal "
            "| cum ms / signal |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| `{f['function']}` | {f['tottime_ms_per_signal']:.2f} "
            f"| {f['cumtime_ms_per_signal']:.2f} |"
            for f in p["cprofile_top_tottime"]
        ]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--budget", type=float, default=55.0)
    parser.add_argument(
        "--venue", action="append", choices=VENUES, help="only this venue (repeatable)"
    )
    parser.add_argument("--profile", action="store_true", help="also run the attribution pass")
    parser.add_argument("--profile-only", action="store_true", help="only the attribution pass")
    parser.add_argument("--profile-iterations", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulated venue latency")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if not args.profile_only:
        results = run(
            args.iterations,
            args.warmup,
            args.budget,
            venues=args.venue or VENUES,
            latency_ms=args.latency_ms,
        )
    if args.profile or args.profile_only:
        results["profiles"] = profile(args.profile_iterations)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
        return
    if "rows" in results:
        print(markdown(results))
    if "profiles" in results:
        print()
        print(markdown_profile(results["profiles"]))


if __name__ == "__main__":
    main()
