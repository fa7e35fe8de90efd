"""The ``tradeexec`` commands that trade and operate: order, cancel, leverage, close, halt,
resume, state, reconcile, signal show. ``tradeexec.cli`` registers them on the app.

Orders go through ``TradingService.submit_signal`` with source ``cli``: the same gate, risk
checks, kill switch and idempotency as the webhook, REST and MCP doors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradeexec import errors
from tradeexec.cli.common import (
    AccountOpt,
    AllAccountsOpt,
    ConfigOpt,
    EntryType,
    JsonOpt,
    MarginChoice,
    Side,
    StoreOpt,
    SymbolArg,
    fail,
    finish_report,
    load_config,
    reader_for,
    run,
    service_for,
)
from tradeexec.cli.lazy import lazy_module

if TYPE_CHECKING:
    from tradeexec.cli import render
else:  # rich loads when a command first prints, not for --help
    render = lazy_module("tradeexec.cli.render")

if TYPE_CHECKING:
    from tradeexec.config import AppConfig
    from tradeexec.execution.report import ExecutionReport

# --------------------------------------------------------------------------- trading


def order(
    side: Annotated[Side, typer.Argument(metavar="SIDE", help="buy or sell.")],
    symbol: SymbolArg,
    quantity: Annotated[
        str | None,
        typer.Argument(metavar="QTY", help="Base-currency amount (omit: the sizing rule)."),
    ] = None,
    order_type: Annotated[EntryType, typer.Option("--type", help="Entry order type.")] = (
        EntryType.market
    ),
    price: Annotated[str | None, typer.Option(help="Limit price (needed by --type limit).")] = None,
    sl: Annotated[str | None, typer.Option("--sl", help="Stop-loss trigger price.")] = None,
    tp: Annotated[str | None, typer.Option("--tp", help="Take-profit trigger price.")] = None,
    leverage: Annotated[int | None, typer.Option(min=1, help="Set leverage first.")] = None,
    confidence: Annotated[
        float | None, typer.Option(help="0..1 (default: risk.default_confidence).")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="Idempotency key: re-running with it never re-sends.")
    ] = None,
    notional: Annotated[
        str | None, typer.Option(help="Size in quote currency instead of QTY.")
    ] = None,
    target_position: Annotated[
        str | None,
        typer.Option(
            "--target-position",
            help="End at this position (signed; SIDE names its side, 0 = flat) instead of QTY.",
        ),
    ] = None,
    reduce_only: Annotated[
        bool, typer.Option("--reduce-only", help="Only reduce the position, never open.")
    ] = False,
    reverse: Annotated[
        bool,
        typer.Option(
            "--reverse", help="Against an opposite position: close it in full, then open QTY."
        ),
    ] = False,
    account: AccountOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit a buy/sell signal: risk-checked entry, then resting stop and target.

    SIDE + QTY is an order of that size: against an opposite position it reduces first and
    opens only the excess (`sell 0.1` with a long 0.2 leaves a long 0.1). Goes through the
    same gate and risk checks as every other door. Exit status 1, with the reason, when it
    is refused or fails. `--price` needs `--type limit`: a market order fills at the market,
    so a price there would be silently ignored.
    """
    if price is not None and order_type is EntryType.market:
        raise typer.BadParameter(
            "a market order fills at the market price; for a limit order at this price add "
            "--type limit",
            param_hint="'--price'",
        )
    if target_position is not None:
        if quantity is not None or notional is not None:
            raise typer.BadParameter(
                "--target-position says where to end; give it or QTY / --notional, not both",
                param_hint="'--target-position'",
            )
        target_position = _signed_target(side, target_position)
    from tradeexec.domain import SignalSource

    request = {
        "symbol": symbol, "side": None if target_position is not None else side.value,
        "quantity": quantity, "notional": notional, "target_position": target_position,
        "reduce_only": reduce_only, "reverse": reverse,
        "order_type": order_type.value, "price": price, "stop_loss": sl, "take_profit": tp,
        "leverage": leverage, "confidence": confidence, "account": account,
        "idempotency_key": key,
    }  # fmt: skip

    async def go() -> ExecutionReport:
        async with service_for(load_config(config, store)) as service:
            # parsed by the service, so bad input is recorded as a rejected signal too
            return await service.submit(request, SignalSource.CLI)

    finish_report(run(go()), as_json)


def _signed_target(side: Side, text: str) -> str:
    """SIDE names the side of the target position: `sell --target-position 0.2` is short 0.2
    (a signed value must agree with SIDE)."""
    value = text.strip()
    negative = value.startswith("-")
    magnitude = value.lstrip("+-")
    if negative and side.value == "buy" and magnitude.strip("0.") != "":
        raise typer.BadParameter(
            f"buy with a negative target ({value}) is contradictory: a short target is "
            "`sell --target-position " + magnitude + "`",
            param_hint="'--target-position'",
        )
    return magnitude if side.value == "buy" else f"-{magnitude}"


def cancel(
    symbol: Annotated[str, typer.Argument(metavar="SYMBOL", help="The order's symbol.")],
    order_id: Annotated[str | None, typer.Option("--id", help="Exchange order id.")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="Client order id.")] = None,
    account: AccountOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel one order by exchange id or client id (allowed even when halted).

    Exit status 0 when it is cancelled or was already closed (filled, cancelled), 1 when
    the venue does not know the order."""
    if (order_id is None) == (client_id is None):
        raise typer.BadParameter("give exactly one of them", param_hint="'--id' / '--client-id'")

    async def go() -> tuple[Any, Any]:
        async with service_for(load_config(config, store)) as service:
            cancelled = await service.cancel(
                symbol, order_id=order_id, client_order_id=client_id, account=account
            )
            if cancelled is not None:
                return cancelled, None
            # nothing was cancelled: already closed, or an order the venue never had?
            trader = await service.manager.get(account)
            try:
                return None, await trader.fetch_order(symbol, order_id, client_id)
            except errors.OrderNotFound:
                return None, None

    cancelled, closed = run(go())
    which = f"id {order_id}" if order_id else f"client id {client_id}"
    if cancelled is None and closed is None:
        raise fail(f"no order with {which} on {symbol}", "order_not_found")
    if as_json:
        render.print_json(
            {"cancelled": cancelled is not None, "order": cancelled or closed,
             "status": (cancelled or closed).status}
        )  # fmt: skip
    elif cancelled is None:
        render.note(f"nothing to cancel: order {which} is already {closed.status.value}")
    else:
        render.show(render.orders_table("cancelled", [cancelled]))


def set_leverage(
    symbol: SymbolArg,
    leverage: Annotated[int, typer.Argument(metavar="N", min=1, help="Leverage, e.g. 5.")],
    margin_mode: Annotated[MarginChoice | None, typer.Option(help="cross or isolated.")] = None,
    account: AccountOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a symbol's leverage (and margin mode), within risk.max_leverage."""
    from tradeexec.domain import MarginMode

    mode = MarginMode(margin_mode.value) if margin_mode else None

    async def go() -> tuple[str, str]:
        # through the service: the account's max_leverage applies, as on every surface
        async with service_for(load_config(config, store)) as service:
            resolved = await service.set_leverage(symbol, leverage, mode, account=account)
            return account or service.manager.default_name(), resolved

    name, resolved = run(go())
    result = {"account": name, "symbol": resolved, "leverage": leverage,
              "margin_mode": mode.value if mode else None}  # fmt: skip
    if as_json:
        render.print_json(result)
    else:
        render.note(
            f"{name}: {resolved} leverage {leverage}x" + (f", {mode.value}" if mode else "")
        )


def close(
    symbol: SymbolArg,
    account: AccountOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Flatten one position with a reduce-only market order (allowed even when halted)."""

    async def go() -> ExecutionReport:
        async with service_for(load_config(config, store)) as service:
            return await service.close_position(symbol, account=account)

    finish_report(run(go()), as_json)


# --------------------------------------------------------------------------- operations


def halt(
    reason: Annotated[str, typer.Option(help="Recorded with the halt.")] = "kill switch (cli)",
    cancel_orders: Annotated[bool, typer.Option(help="Also cancel open orders.")] = False,
    flatten: Annotated[bool, typer.Option(help="Also cancel orders and close positions.")] = False,
    account: AllAccountsOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The kill switch: refuse every new order (cancels still pass) until `resume`.

    Every account is HALTED first, then each one's cancels / flattens run; exit status 1
    when any of them could not be done (it is retried by the next `halt` or `reconcile`)."""

    async def go() -> dict[str, Any]:
        async with service_for(load_config(config, store)) as service:
            service.manager.account_config(account)  # an unknown name is an error
            return await service.halt(
                account, reason=reason, cancel_orders=cancel_orders, flatten=flatten
            )

    result = run(go())
    if as_json:
        render.print_json(result)
    else:
        render.show(render.halt_table(result))
    if not all(done.get("complete", True) for done in result.values()):
        # every account is HALTED; what could not be cancelled or closed is retried by the
        # next `halt` or `reconcile` - but the operator must know it is not done yet
        raise typer.Exit(1)


def resume(
    account: AllAccountsOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Allow trading again after `halt` (or a REDUCING state set by reconciliation)."""

    _show_states(load_config(config, store), account, as_json, resume_first=True)


def state(
    account: AllAccountsOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show each account's trading state: ACTIVE, REDUCING or HALTED, and why."""

    _show_states(load_config(config, store), account, as_json)


def reconcile(
    account: AllAccountsOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Align the store with the exchange: order states, fills, bracket siblings, positions.

    Exit status 1 when an account could not be reconciled or a mismatch was reported."""

    async def go() -> list[dict[str, Any]]:
        async with service_for(load_config(config, store)) as service:
            names = [account] if account else service.manager.names
            out = []
            for name in names:
                try:
                    out.append((await service.reconcile(name)).to_dict())
                except errors.TradeExecError as exc:
                    if account:
                        raise
                    out.append({"account": name, "error": str(exc), "reason": exc.code})
            return out

    reports = run(go())
    if as_json:
        render.print_json(reports)
    else:
        render.show(render.reconcile_table(reports))
    if any("error" in r or r.get("mismatches") for r in reports):
        raise typer.Exit(1)


def signal_show(
    key_or_id: Annotated[
        str, typer.Argument(metavar="KEY_OR_ID", help="The idempotency key or the signal id.")
    ],
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what happened to a signal: decision, orders, state history, fills, events.

    `--store` reads another store, e.g. the demo's (`tradeexec demo` prints it)."""
    loaded = load_config(config, store)

    async def go() -> Any:
        async with reader_for(loaded) as service:
            return None if service is None else await service.signal_timeline(key_or_id)

    timeline = run(go())
    if timeline is None:
        shown = loaded.redacted()["store_url"]
        raise fail(f"no signal with idempotency key or id {key_or_id!r} in {shown}", "not_found")
    if as_json:
        render.print_json(timeline)
    else:
        render.timeline_print(timeline)


def _show_states(
    config: AppConfig, account: str | None, as_json: bool, *, resume_first: bool = False
) -> None:
    """Each account's trading state (after resuming it, for `resume`). Reading it never
    creates the store: without one, nothing was ever halted."""
    config.account(account)  # an unknown name is an error
    names = [account] if account else list(config.accounts)

    async def go() -> list[dict[str, Any]]:
        if resume_first:
            async with service_for(config) as service:
                await service.resume(account, reason="resumed (cli)")
                return [(await service.state(n)).to_dict() for n in names]
        async with reader_for(config) as reader:
            if reader is None:
                return [{"account": n, "state": "active", "reason": None} for n in names]
            return [(await reader.state(n)).to_dict() for n in names]

    states = run(go())
    if as_json:
        render.print_json(states)
    else:
        render.show(render.states_table(states))
