"""``tradeexec demo`` (``make run``): the whole path on the simulator, no keys needed.

It starts a simulator in-process, configures three accounts in memory (``binance-sim`` and
``hl-sim`` pointed at the simulator with freshly funded credentials, and ``paper``), and for
each one:

1. submits a bracketed market signal through `TradingService` (BTC long, confidence 0.85,
   stop 2 % below and target 3 % above the current price, sized by the default risk rule:
   1 % of equity lost if the stop is hit);
2. moves the mark price below the stop, so the resting stop-loss fires on the venue;
3. reconciles: the fills and realised PnL are recorded, and the now orphaned take-profit
   is cancelled (neither venue cancels the sibling itself);
4. prints the signal's timeline and the final positions.

The store is ``demo.db`` in the data directory (see `tradeexec.config.paths`) unless told
otherwise, apart from the main store; the demo ends by saying how ``tradeexec signal show
--store`` reads it afterwards. Market metadata is cached in a temporary directory: the simulator's
port changes every run and cached files would only pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.rule import Rule

from tradeexec import errors
from tradeexec.cli import render
from tradeexec.cli.common import open_service
from tradeexec.config import AppConfig
from tradeexec.config.paths import data_dir
from tradeexec.domain import OrderSide, SignalSource, TradingState
from tradeexec.execution.signals import Signal
from tradeexec.service import TradingService
from tradeexec.sim.app import SimConfig
from tradeexec.sim.server import SimServer, banner
from tradeexec.store.records import SignalTimeline

BALANCE = Decimal("10000")
CONFIDENCE = 0.85
STOP_DISTANCE = Decimal("0.02")
TARGET_DISTANCE = Decimal("0.03")
CRASH_DISTANCE = Decimal("0.025")  # the mark falls this far below the entry: through the stop

# account -> what it is, for the headings
ACCOUNTS = {
    "binance-sim": "Binance USD-M futures via the simulator",
    "hl-sim": "Hyperliquid via the simulator",
    "paper": "paper trading in-process",
}


@dataclass
class AccountRun:
    """What the demo did on one account, and whether the story came out as it should."""

    account: str
    report: dict[str, Any] | None = None
    timeline: SignalTimeline | None = None
    positions: list[Any] | None = None
    reconcile: dict[str, Any] | None = None
    error: str | None = None

    def order_status(self, role: str) -> str | None:
        if self.timeline is None:
            return None
        found = [ot.order.status for ot in self.timeline.orders if ot.order.role == role]
        return found[-1] if found else None

    @property
    def realized_pnl(self) -> Decimal:
        if self.timeline is None:
            return Decimal(0)
        return sum(
            (f.realized_pnl or Decimal(0) for ot in self.timeline.orders for f in ot.fills),
            Decimal(0),
        )

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.order_status("entry") == "filled"
            and self.order_status("stop_loss") == "filled"
            and self.order_status("take_profit") == "canceled"
            and not self.positions
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "ok": self.ok,
            "report": self.report,
            "reconcile": self.reconcile,
            "timeline": render.jsonable(self.timeline),
            "positions": render.jsonable(self.positions),
            "realized_pnl": str(self.realized_pnl),
            "error": self.error,
        }


def demo_config(
    base_url: str, binance: dict[str, str], hyperliquid: dict[str, str], store_url: str,
    market_cache_dir: str,
) -> AppConfig:  # fmt: skip
    """The demo's configuration, in memory: two simulator accounts and a paper account."""
    return AppConfig.model_validate(
        {
            "accounts": {
                "binance-sim": {
                    "type": "binance",
                    "api_url": base_url,
                    "api_key": binance["apiKey"],
                    "api_secret": binance["secret"],
                },
                "hl-sim": {
                    "type": "hyperliquid",
                    "api_url": base_url,
                    "wallet_address": hyperliquid["walletAddress"],
                    "private_key": hyperliquid["privateKey"],
                },
                "paper": {"type": "paper", "starting_balance": str(BALANCE)},
            },
            "default_account": "binance-sim",
            "store_url": store_url,
            "market_cache_dir": market_cache_dir,
        }
    )


def default_demo_store_url() -> str:
    """``demo.db`` next to the main store's default, whatever the current directory."""
    return f"sqlite:///{data_dir() / 'demo.db'}"


def run_demo(store_url: str | None = None, *, keep_running: bool = False,
             as_json: bool = False) -> bool:  # fmt: skip
    """Run the demo; True when every account told the whole story (entry, stop, cleanup)."""
    store_url = store_url or default_demo_store_url()
    with SimServer(SimConfig(seed=7)) as server:
        runs = asyncio.run(_demo(server, store_url, as_json))
        if as_json:
            render.print_json([run.to_dict() for run in runs])
        else:
            _summary(runs)
            _next_steps(runs, store_url)
        if keep_running:
            _serve_until_interrupted(server)
    return all(run.ok for run in runs)


class _Story:
    """The narration; silent under ``--json`` (stdout then carries only the JSON)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, *items: Any) -> None:
        if not self.quiet:
            render.stdout().print(*items)


async def _demo(server: SimServer, store_url: str, quiet: bool) -> list[AccountRun]:
    sim = server.simulator
    binance = sim.binance.create_account(BALANCE)
    hyperliquid = sim.hyperliquid.create_account(BALANCE)
    story = _Story(quiet)
    story.say(f"[bold]tradeexec demo[/]: simulator at {server.base_url}, store {store_url}")
    with tempfile.TemporaryDirectory(prefix="tradeexec-demo-") as cache_dir:
        config = demo_config(server.base_url, binance, hyperliquid, store_url, cache_dir)
        service = open_service(config)
        try:
            await service.start(reconcile=False)
            movers: dict[str, Callable[[str, Decimal], None]] = {
                "binance-sim": lambda coin, p: _set_sim_price(server, coin, p, "binance"),
                "hl-sim": lambda coin, p: _set_sim_price(server, coin, p, "hyperliquid"),
            }
            runs = []
            for name in config.accounts:
                story.say(Rule(f"{name}: {ACCOUNTS.get(name, '')}", align="left"))
                run = AccountRun(name)
                try:
                    await _demo_account(service, name, movers.get(name), run, story)
                except errors.TradeExecError as exc:
                    run.error = f"{exc.code}: {exc}"
                    render.error(str(exc), exc.code)
                runs.append(run)
            return runs
        finally:
            await service.stop()
            service.store.close()


def _set_sim_price(server: SimServer, coin: str, price: Decimal, venue: str) -> None:
    server.simulator.set_price(coin, price, venue)


async def _demo_account(
    service: TradingService, name: str, move: Callable[[str, Decimal], None] | None,
    run: AccountRun, story: _Story,
) -> None:  # fmt: skip
    # the store outlives simulator accounts: a state left by an earlier run is not this one's
    state = await service.state(name)
    if state.state is not TradingState.ACTIVE:
        await service.resume(name, reason="demo: fresh simulator account")

    trader = await service.manager.get(name)
    symbol = trader.resolve_symbol("BTC")
    ticker = await trader.fetch_ticker(symbol)
    price = ticker.reference_price
    if price is None:
        raise errors.ExchangeError("no BTC price to start from", exchange=name)
    stop = trader.price_to_precision(symbol, price * (1 - STOP_DISTANCE))
    target = trader.price_to_precision(symbol, price * (1 + TARGET_DISTANCE))
    story.say(
        f"signal: buy BTC at ~{render.cell(price)}, confidence {CONFIDENCE}, "
        f"stop {render.cell(stop)}, target {render.cell(target)}, sized by the risk rule"
    )
    signal = Signal(
        symbol="BTC", side=OrderSide.BUY, source=SignalSource.AGENT,
        idempotency_key=f"demo-{name}-{uuid.uuid4().hex[:12]}", created_at=datetime.now(UTC),
        account=name, stop_loss=stop, take_profit=target, confidence=CONFIDENCE,
        comment="tradeexec demo: long BTC with a bracket",
    )  # fmt: skip
    report = await service.submit_signal(signal)
    run.report = render.report_json(report)
    if not story.quiet:
        render.print_report(report)
    if not report.success or report.signal_id is None:
        run.error = f"{report.reason}: {report.error}"
        return

    crash = trader.price_to_precision(symbol, price * (1 - CRASH_DISTANCE))
    coin = trader.market(symbol).base
    if move is not None:
        move(coin, crash)
    else:
        trader.set_mark(symbol, crash)  # type: ignore[attr-defined]  # the paper venue
    story.say(
        f"the price falls: BTC mark {render.cell(price)} -> {render.cell(crash)}, "
        f"through the stop at {render.cell(stop)}"
    )

    run.reconcile = (await service.reconcile(name)).to_dict()
    run.timeline = await service.signal_timeline(report.signal_id)
    run.positions = [p for p in await service.positions(name) if p.quantity]
    story.say(
        f"reconciled: stop-loss {run.order_status('stop_loss')}, take-profit "
        f"{run.order_status('take_profit')}, realised PnL {render.cell(run.realized_pnl)} "
        f"{trader.capabilities.settle_currency}"
    )
    if not story.quiet and run.timeline is not None:
        render.timeline_print(run.timeline)
    if not run.positions:
        story.say("positions: flat")
    elif not story.quiet:
        render.show(render.positions_table(name, run.positions))


def _summary(runs: list[AccountRun]) -> None:
    table = render.new_table(
        "demo summary", "account", "entry", "stop-loss", "take-profit", "realised PnL",
        "position", "result",
    )  # fmt: skip
    for run in runs:
        entry = run.report or {}
        filled = (
            f"filled {entry.get('exact', {}).get('filled_quantity', '-')} "
            f"@ {entry.get('exact', {}).get('average_price', '-')}"
            if run.order_status("entry") == "filled"
            else str(run.order_status("entry") or entry.get("status") or "-")
        )
        table.add_row(
            run.account, filled,
            "fired (filled)" if run.order_status("stop_loss") == "filled"
            else str(run.order_status("stop_loss") or "-"),
            str(run.order_status("take_profit") or "-"), render.cell(run.realized_pnl),
            "flat" if not run.positions else f"{len(run.positions)} open",
            "ok" if run.ok else f"FAILED {run.error or ''}".strip(),
        )  # fmt: skip
    render.show(table)


def _next_steps(runs: list[AccountRun], store_url: str) -> None:
    """What to try next, with commands that work as printed."""
    keys = [r.report["idempotency_key"] for r in runs if r.report]
    store = f"'{store_url}'"
    lines = ["", "[bold]next steps[/]"]
    if keys:
        lines.append(
            f"  tradeexec signal show {keys[0]} --store {store}   # a signal's story again"
        )
    lines += [
        "  tradeexec config check              # your configuration, store and market cache",
        "  tradeexec order buy BTC 0.01 --sl 60000   # a paper order (config/exchange.yaml)",
        "  tradeexec sim --port 8765           # the simulator, for real traders (README)",
    ]
    render.stdout().print("\n".join(lines))


def _serve_until_interrupted(server: SimServer) -> None:
    """Leave the simulator up for manual use; its banner has fresh funded credentials.

    Ctrl-C is a clean stop from the moment the banner is out (a caller that acts on the banner
    may interrupt before the note on stderr is written)."""
    with contextlib.suppress(KeyboardInterrupt):
        print(json.dumps(banner(server.simulator, server.base_url)), flush=True)
        render.stderr().print(f"simulator running at {server.base_url}; Ctrl-C to stop")
        threading.Event().wait()
