"""How the ``tradeexec`` command shows things: rich tables for people, JSON for scripts.

Nothing here imports ccxt, the service or the simulator: values arrive as plain domain
objects and records, and are only read. JSON keeps decimals exact (as strings).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tradeexec.cli.table_fit import as_records as as_records
from tradeexec.cli.table_fit import fit
from tradeexec.json_values import jsonable as jsonable

if TYPE_CHECKING:
    from tradeexec.domain import Balance, Market, Order, Position, Ticker
    from tradeexec.execution.report import ExecutionReport
    from tradeexec.store.records import SignalTimeline


def stdout() -> Console:
    """A console on the current ``sys.stdout`` (so test runners capture it)."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- JSON


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), indent=2) + "\n")


def report_json(report: ExecutionReport) -> dict[str, Any]:
    """The report's own dict shape plus the account and every order it placed."""
    return {
        **report.to_dict(),
        "account": report.account,
        "orders": {role: jsonable(order) for role, order in report.orders.items()},
    }


# --------------------------------------------------------------------------- messages


def error(message: str, code: str) -> None:
    """One red line: ``error [code]: message`` (extra lines, e.g. config problems, indented)."""
    first, *rest = message.splitlines() or [""]
    line = Text.assemble(("error", "bold red"), (f" [{code}]: ", "red"), (first, "red"))
    console = stderr()
    console.print(line)
    for extra in rest:
        console.print(Text(f"  {extra}", style="red"))


def warning(message: str) -> None:
    stderr().print(Text.assemble(("warning: ", "bold yellow"), message))


def note(message: str, style: str = "") -> None:
    stdout().print(Text(message, style=style))


# --------------------------------------------------------------------------- cells


def cell(value: Any) -> str:
    """One table cell: exact decimals without exponent noise, '-' for nothing."""
    if value is None:
        return "-"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(value)


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def new_table(title: str | None, *columns: str) -> Table:
    """A compact table (no side borders) whose cells wrap rather than lose characters: an
    id cut with an ellipsis could not be copied into the next command."""
    table = Table(
        title=title, title_justify="left", title_style="bold", header_style="bold",
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
    )  # fmt: skip
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def show(table: Table) -> None:
    stdout_wrapping().print(fit(table, stdout_wrapping()))


def stdout_wrapping() -> Console:
    """A console on stdout that wraps to the terminal's width (titles too)."""
    return Console(file=sys.stdout, highlight=False)


# --------------------------------------------------------------------------- market data


def markets_table(account: str, markets: Sequence[Market]) -> Table:
    table = new_table(
        f"{account}: markets ({len(markets)})",
        "symbol", "base", "settle", "amount step", "price step", "min amount",
        "min notional", "max lev",
    )  # fmt: skip
    for m in markets:
        price_step = cell(m.price_step)
        if m.price_step is None and m.price_sig_figs is not None:
            price_step = f"{m.price_sig_figs} sig. figures"
        table.add_row(
            m.symbol, m.base, cell(m.settle), cell(m.amount_step), price_step,
            cell(m.min_amount), cell(m.min_notional), cell(m.max_leverage),
        )  # fmt: skip
    return table


def ticker_table(account: str, ticker: Ticker) -> Table:
    table = new_table(f"{account}: {ticker.symbol}", "bid", "ask", "last", "mark")
    table.add_row(cell(ticker.bid), cell(ticker.ask), cell(ticker.last), cell(ticker.mark))
    return table


def balance_table(account: str, balances: Mapping[str, Balance]) -> Table:
    table = new_table(f"{account}: balance", "currency", "total", "free", "used")
    for currency, b in sorted(balances.items()):
        table.add_row(currency, cell(b.total), cell(b.free), cell(b.used))
    return table


def positions_table(account: str, positions: Sequence[Position]) -> Table:
    table = new_table(
        f"{account}: open positions ({len(positions)})",
        "symbol", "side", "quantity", "entry", "mark", "unrealised PnL", "lev", "liq. price",
    )  # fmt: skip
    for p in positions:
        table.add_row(
            p.symbol, p.side, cell(p.quantity), cell(p.entry_price), cell(p.mark_price),
            cell(p.unrealized_pnl), cell(p.leverage), cell(p.liquidation_price),
        )  # fmt: skip
    return table


def orders_table(title: str, orders: Iterable[Order]) -> Table:
    table = new_table(title, "symbol", "id", "client id", "side", "type", "qty", "price", "status")
    for o in orders:
        qty = cell(o.quantity)
        if o.filled_quantity:
            qty = f"{cell(o.filled_quantity)}/{qty}"
        table.add_row(
            o.symbol, o.id, cell(o.client_order_id), o.side.value, o.type.value, qty, _price(o),
            _status(o.status.value),
        )  # fmt: skip
    return table


def _price(o: Order) -> str:
    """The one price that matters: the fill average, else the trigger, else the limit."""
    if o.average_price is not None and o.filled_quantity:
        return f"{cell(o.average_price)} avg"
    if o.trigger_price is not None:
        return f"{cell(o.trigger_price)} trigger"
    return cell(o.price)


def _report_orders(report: ExecutionReport) -> Table:
    table = new_table(None, "role", "order id", "side", "type", "qty", "price", "status")
    for role, o in report.orders.items():
        table.add_row(
            role, o.id, o.side.value, o.type.value, cell(o.quantity), _price(o),
            _status(o.status.value),
        )  # fmt: skip
    return table


def _status(status: str) -> Text:
    style = {"filled": "green", "rejected": "red", "canceled": "yellow", "unknown": "red"}
    return Text(status, style=style.get(status, ""))


# --------------------------------------------------------------------------- execution


def print_report(report: ExecutionReport) -> None:
    """What happened to a signal just submitted: the outcome, then every order placed."""
    console = stdout()
    style = "bold green" if report.success else "bold red"
    head = Text.assemble(
        (report.status.upper(), style),
        f"  {report.account or '-'}  {report.entry.symbol if report.entry else report.symbol}",
        f"  signal {report.signal_id if report.signal_id is not None else '-'}",
        f"  key {report.idempotency_key}",
    )
    console.print(head)
    if report.orders:
        console.print(fit(_report_orders(report), console))
    if report.duplicate_order_id is not None:
        console.print(f"already executed: order {report.duplicate_order_id}")
    if report.quantity is not None and not report.orders:
        console.print(f"sized quantity: {cell(report.quantity)}")
    if report.reason or report.error:
        reason = Text.assemble(("reason: ", "bold"), (report.reason or "-", style))
        if report.error:
            reason.append(f"  {report.error}")
        console.print(reason)
    for text in report.warnings:
        console.print(Text.assemble(("warning: ", "bold yellow"), text))


def timeline_print(timeline: SignalTimeline) -> None:
    """The signal, its decision, its orders with state history and fills, then its events."""
    console = stdout()
    s = timeline.signal
    console.print(
        Text.assemble(
            (f"signal {s.id}", "bold"),
            f"  {s.idempotency_key}  {s.account}  {s.symbol}  from {s.source}",
            f"  confidence {cell(s.confidence)}  at {cell(s.created_at)}  ",
            (s.status, "green" if s.status in ("filled", "accepted") else "yellow"),
        )
    )
    request = {k: v for k, v in s.payload.items() if v not in (None, False, {}, "") and k != "raw"}
    wanted = ("side", "target_position", "quantity", "notional", "order_type", "price",
              "stop_loss", "take_profit", "leverage", "comment")  # fmt: skip
    asked = "  ".join(f"{k}={request[k]}" for k in wanted if k in request)
    if asked:
        console.print(f"asked: {asked}")
    for d in timeline.decisions:
        verdict = Text("approved", "green") if d.approved else Text("refused", "red")
        line = Text.assemble(("decision: ", "bold"), verdict)
        if d.reason_code:
            line.append(f" ({d.reason_code})")
        if d.detail:
            line.append(f"  {d.detail}")
        sizing = {k: v for k, v in (d.sizing or {}).items() if k in _SIZING_SHOWN and v}
        if sizing:
            line.append("  sizing: " + ", ".join(f"{k}={v}" for k, v in sizing.items()))
        console.print(line)
    if timeline.orders:
        console.print(fit(_timeline_orders(timeline), console))
        for ot in timeline.orders:
            steps = " → ".join(
                f"{h.to_status} ({h.event}, {h.at.strftime('%H:%M:%S.%f')[:-3]})"
                for h in ot.history
            )
            console.print(Text.assemble((f"  {ot.order.role}: ", "bold"), steps))
    fills = [(ot.order.role, f) for ot in timeline.orders for f in ot.fills]
    if fills:
        table = new_table("fills", "order", "trade id", "side", "qty", "price", "fee",
                       "realised PnL", "at")  # fmt: skip
        for role, f in fills:
            table.add_row(
                role, f.exchange_trade_id, f.side, cell(f.quantity), cell(f.price),
                f"{cell(f.fee)} {f.fee_currency or ''}".strip(), cell(f.realized_pnl),
                cell(f.at),
            )  # fmt: skip
        console.print(fit(table, console))
    if timeline.events:
        table = new_table("events", "at", "kind", "data")
        for e in timeline.events:
            data = json.dumps(jsonable(e.data), separators=(", ", ":")) if e.data else ""
            table.add_row(cell(e.at), e.kind, data)
        console.print(fit(table, console))


_SIZING_SHOWN = ("mode", "quantity", "notional", "capped_by")


def _timeline_orders(timeline: SignalTimeline) -> Table:
    """The orders; their state histories follow the table, one line each."""
    table = new_table(
        "orders", "role", "order id", "side", "type", "qty", "price", "filled", "status"
    )
    for ot in timeline.orders:
        o = ot.order
        if o.average_price is not None and o.filled_quantity:
            price = f"{cell(o.average_price)} avg"
        elif o.trigger_price is not None:
            price = f"{cell(o.trigger_price)} trigger"
        else:
            price = cell(o.price)
        table.add_row(
            o.role, cell(o.exchange_order_id), o.side, o.order_type, cell(o.quantity), price,
            cell(o.filled_quantity), _status(o.status),
        )  # fmt: skip
    return table


# --------------------------------------------------------------------------- operations


def states_table(states: Sequence[Mapping[str, Any]]) -> Table:
    table = new_table("trading state", "account", "state", "reason")
    colours = {"active": "green", "reducing": "yellow", "halted": "red"}
    for s in states:
        state = str(s["state"])
        table.add_row(s["account"], Text(state.upper(), colours.get(state, "")), cell(s["reason"]))
    return table


def halt_table(result: Mapping[str, Mapping[str, Any]]) -> Table:
    table = new_table("halted", "account", "state", "cancelled orders", "flattened", "not done")
    for name, done in result.items():
        flattened = [f"{r.get('symbol')} {r.get('status')}" for r in done.get("flattened", [])]
        failures = [
            f"{f.get('step')}: {f.get('reason') or f.get('error')}"
            for f in done.get("failures", [])
        ]
        table.add_row(
            name, Text(str(done.get("state")), "red"),
            ", ".join(done.get("cancelled", [])) or "-", ", ".join(flattened) or "-",
            Text("\n".join(failures), "yellow") if failures else "-",
        )  # fmt: skip
    return table


def reconcile_table(reports: Sequence[Mapping[str, Any]]) -> Table:
    table = new_table(
        "reconcile", "account", "resolved", "fills", "legs cancelled", "legs placed", "adopted",
        "mismatches",
    )  # fmt: skip
    for r in reports:
        if "error" in r:
            table.add_row(r["account"], Text(f"error: {r['error']}", "red"), *["-"] * 5)
            continue
        table.add_row(
            r["account"], "\n".join(r["resolved"]) or "-", str(r["fills_recorded"]),
            "\n".join(r["legs_cancelled"]) or "-", "\n".join(r["legs_placed"]) or "-",
            "\n".join(r["adopted"]) or "-",
            Text("\n".join(r["mismatches"]), "yellow") if r["mismatches"] else "-",
        )  # fmt: skip
    return table


def health_table(health: Mapping[str, Mapping[str, Any]]) -> Table:
    table = new_table(
        "health", "account", "venue", "ok", "credentials", "latency ms", "code", "error"
    )
    for name, h in health.items():
        ok = Text("yes", "green") if h["ok"] else Text("NO", "bold red")
        latency = h.get("latency_ms")
        table.add_row(
            name, h["venue"], ok, cell(h.get("credentials")),
            "-" if latency is None else f"{latency:.1f}", cell(h.get("code")), cell(h["error"]),
        )  # fmt: skip
    return table


_SHOWN_CREDENTIALS = (
    "api_key", "api_secret", "password", "uid", "account_id", "login", "twofa", "private_key",
    "token",
)  # fmt: skip
_PUBLIC_CREDENTIALS = ("uid", "account_id", "login")


def config_table(
    source: str,
    redacted: Mapping[str, Any],
    needs: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> Table:
    """The accounts of a loaded configuration, secrets already masked by ``redacted()``;
    ``needs`` (from ``credential_report``) adds what each exchange requires."""
    default = redacted.get("default_account") or next(iter(redacted["accounts"]), None)
    table = new_table(
        f"{source}: {len(redacted['accounts'])} account"
        + ("s" if len(redacted["accounts"]) != 1 else ""),
        "account", "type", "endpoint", "credentials", "requires", "symbols", "risk overrides",
    )  # fmt: skip
    for name, a in redacted["accounts"].items():
        endpoint = a.get("api_url") or (
            "testnet" if a.get("testnet") else "demo" if a.get("demo") else "live"
        )
        if a["type"] == "paper":
            endpoint = f"in-process ({a.get('venue') or 'binance'} rules)"
        creds = [
            f"{k}={a[k]}" if k in _PUBLIC_CREDENTIALS else f"{k}=***"
            for k in _SHOWN_CREDENTIALS
            if a.get(k)
        ]
        if a.get("wallet_address"):
            creds.insert(0, f"wallet {a['wallet_address']}")
        label = f"{name} (default)" if name == default else name
        report = (needs or {}).get(name)
        requires = "-"
        if report and report["needs"]:
            requires = ", ".join(report["needs"])
            if report["missing"]:
                requires += f" (missing: {', '.join(report['missing'])})"
        table.add_row(
            label, a["type"] if a["type"] != "ccxt" else f"ccxt:{a.get('exchange_id')}",
            endpoint, ", ".join(creds) or "none", requires,
            ", ".join(a.get("symbols") or []) or "all",
            ", ".join(f"{k}={v}" for k, v in (a.get("risk") or {}).items()) or "-",
        )  # fmt: skip
    return table


def state_lines(state: Mapping[str, Any]) -> None:
    """Where the store and the market cache are (``config check``)."""
    console = stdout()
    exists = "" if state["store_exists"] else "  (not created yet)"
    console.print(Text.assemble(("store: ", "bold"), f"{state['store']}{exists}"))
    console.print(Text.assemble(("market cache: ", "bold"), str(state["market_cache"])))
