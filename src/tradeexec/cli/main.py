"""The ``tradeexec`` command: the simulator, the demo, market data, orders and operations.

Every command that prints data takes ``--json``; every trading or reading command takes
``--account`` and ``--config``. The trading and operations commands live in
``tradeexec.cli.ops``, the shared plumbing in ``tradeexec.cli.common``, the tables in
``tradeexec.cli.render``.

Imports of the service, the traders, the simulator (and so ccxt, ~0.7 s and ~100 MB) happen
inside the command functions, so ``tradeexec --help`` stays fast. A ``TradeExecError`` ends
the command with one red line naming its reason code and exit status 1, never a traceback.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradeexec import __version__
from tradeexec.cli import mcp as cli_mcp
from tradeexec.cli import ops as cli_ops
from tradeexec.cli import serve as cli_serve
from tradeexec.cli.common import (
    AccountOpt,
    ConfigOpt,
    JsonOpt,
    StoreOpt,
    SymbolArg,
    app,
    config_app,
    fail,
    load_config,
    run,
    signal_app,
    store_exists,
    trader_for,
)
from tradeexec.cli.lazy import lazy_module

if TYPE_CHECKING:
    from tradeexec.cli import render
else:  # rich loads when a command first prints, not for --help
    render = lazy_module("tradeexec.cli.render")

__all__ = ["app", "main"]

DEFAULT_SIM_PORT = 8765


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tradeexec {__version__}")
        raise typer.Exit()


class LogFormatChoice(StrEnum):
    text = "text"
    json = "json"


@app.callback()
def _main(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Log debug details (-vv: libraries' too). Accepted anywhere on the line.",
        ),
    ] = 0,
    log_file: Annotated[
        Path | None,
        typer.Option(help="Also append the log, in full detail, to this file.", dir_okay=False),
    ] = None,
    log_format: Annotated[
        LogFormatChoice, typer.Option(help="text (readable) or json (one object a line).")
    ] = LogFormatChoice.text,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    from tradeexec.logging_setup import configure

    configure(verbose, log_format.value, log_file)


# --------------------------------------------------------------------------- simulator


class HlNetwork(StrEnum):
    """Whose signatures the simulator's Hyperliquid face accepts (`SimConfig.hl_network`)."""

    MAINNET = "mainnet"
    TESTNET = "testnet"
    BOTH = "both"


@app.command()
def sim(
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = (
        DEFAULT_SIM_PORT
    ),
    seed: Annotated[int, typer.Option(help="Seed of the price walk and faults.")] = 0,
    tick_ms: Annotated[int, typer.Option(help="Step prices every MS ms (0: only on request).")] = 0,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    hl_network: Annotated[
        HlNetwork,
        typer.Option(
            help="Hyperliquid signatures accepted: mainnet's (ccxt), testnet's (ccxt sandbox "
            "mode, the official SDK at any URL but mainnet's) or both."
        ),
    ] = HlNetwork.BOTH,
) -> None:
    """Serve the simulator (Binance USD-M and Hyperliquid faces) on one port.

    The first line on stdout is a JSON banner: the base URL, the Hyperliquid network
    (hl_network) and funded demo credentials.
    """
    from tradeexec.sim.app import SimConfig
    from tradeexec.sim.server import serve

    config = SimConfig(seed=seed, tick_ms=tick_ms, hl_network=hl_network.value)
    try:
        serve(port, host=host, config=config)
    except KeyboardInterrupt:
        return  # Ctrl-C is how the simulator is stopped: no traceback
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", "sim_error") from None


@app.command()
def demo(
    store: Annotated[
        str | None,
        typer.Option(help="Store URL or SQLite file (default: demo.db in the data directory)."),
    ] = None,
    keep_running: Annotated[
        bool, typer.Option(help="Leave the simulator up afterwards and print its banner.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole path on an in-process simulator, no keys needed.

    A bracketed BTC long on Binance, Hyperliquid and paper accounts, the price falling
    through the stop, reconciliation cancelling the target, then each signal's timeline.
    """
    from tradeexec.cli.demo import default_demo_store_url, run_demo
    from tradeexec.config.paths import store_url_from

    url = store_url_from(store, Path.cwd()) if store else default_demo_store_url()
    ok = run_demo(url, keep_running=keep_running, as_json=as_json)
    if not ok:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- market data


@app.command()
def markets(account: AccountOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List the markets an account can trade, with their precision and minimums."""

    async def go() -> tuple[str, list[Any]]:
        async with trader_for(load_config(config), account) as trader:
            found = await trader.load_markets()
            return trader.account, [found[s] for s in sorted(found)]

    name, rows = run(go())
    if as_json:
        render.print_json(rows)
    else:
        render.show(render.markets_table(name, rows))


@app.command()
def ticker(
    symbol: SymbolArg,
    account: AccountOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show bid, ask, last and mark price of one symbol."""

    async def go() -> tuple[str, Any]:
        async with trader_for(load_config(config), account) as trader:
            return trader.account, await trader.fetch_ticker(symbol)

    name, tick = run(go())
    if as_json:
        render.print_json(tick)
    else:
        render.show(render.ticker_table(name, tick))


@app.command()
def balance(account: AccountOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Show the account's balances (total, free, used) per currency."""

    async def go() -> tuple[str, Any]:
        async with trader_for(load_config(config), account) as trader:
            return trader.account, await trader.fetch_balance()

    name, balances = run(go())
    if as_json:
        render.print_json(balances)
    else:
        render.show(render.balance_table(name, balances))


@app.command()
def positions(
    account: AccountOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False
) -> None:
    """Show open positions as the exchange reports them."""

    async def go() -> tuple[str, list[Any]]:
        async with trader_for(load_config(config), account) as trader:
            return trader.account, [p for p in await trader.fetch_positions() if p.quantity]

    name, rows = run(go())
    if as_json:
        render.print_json(rows)
    else:
        render.show(render.positions_table(name, rows))


@app.command()
def orders(
    symbol: Annotated[
        str | None, typer.Argument(metavar="SYMBOL", help="Only this symbol.")
    ] = None,
    account: AccountOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show open orders (resting limits, stops and targets) on the exchange."""

    async def go() -> tuple[str, list[Any]]:
        async with trader_for(load_config(config), account) as trader:
            return trader.account, await trader.fetch_open_orders(symbol)

    name, rows = run(go())
    if as_json:
        render.print_json(rows)
    else:
        render.show(render.orders_table(f"{name}: open orders ({len(rows)})", rows))


# --------------------------------------------------------------------------- trading

app.command()(cli_ops.order)
app.command()(cli_ops.cancel)
app.command(name="leverage")(cli_ops.set_leverage)
app.command()(cli_ops.close)

# --------------------------------------------------------------------------- operations

app.command()(cli_ops.halt)
app.command()(cli_ops.resume)
app.command()(cli_ops.state)
app.command()(cli_ops.reconcile)
signal_app.command("show")(cli_ops.signal_show)
signal_app.command("list")(cli_serve.signal_list)

# --------------------------------------------------------------------------- the service

app.command()(cli_serve.serve)
app.command()(cli_mcp.mcp)


@app.command()
def health(account: AccountOpt = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Connect to each account (or one), read its balance with its credentials, and say
    which answer; exit 1 if one does not (wrong keys included)."""

    async def go() -> dict[str, dict[str, Any]]:
        from tradeexec.exchanges.factory import ExchangeManager

        manager = ExchangeManager(load_config(config))
        try:
            names = [account] if account else manager.names
            manager.account_config(account)  # an unknown name is an error
            checked = await manager.check_accounts(names)
            return {name: health.to_dict() for name, health in checked.items()}
        finally:
            await manager.close_all()

    result = run(go())
    if as_json:
        render.print_json(result)
    else:
        render.show(render.health_table(result))
    if not all(h["ok"] for h in result.values()):
        raise typer.Exit(1)


@config_app.command("check")
def config_check(
    config: ConfigOpt = None, store: StoreOpt = None, as_json: JsonOpt = False
) -> None:
    """Load and validate the configuration; show the accounts with secrets masked, the
    credentials each needs, and where the store and the market cache are."""
    from tradeexec.config import find_config_file
    from tradeexec.exchanges.factory import credential_report

    found = find_config_file(config)
    source = str(found) if found else "(environment / built-in paper default)"
    loaded = load_config(config, store)
    redacted = loaded.redacted()
    state = {
        "store": redacted["store_url"],
        "store_exists": store_exists(loaded),
        "market_cache": loaded.market_cache_dir,
    }
    credentials = {name: credential_report(a) for name, a in loaded.accounts.items()}
    if as_json:
        render.print_json(
            {"source": source, "config": redacted, "state": state, "credentials": credentials}
        )
        return
    render.show(render.config_table(source, redacted, credentials))
    render.state_lines(state)
    missing = [f"{n}: {', '.join(c['missing'])}" for n, c in credentials.items() if c["missing"]]
    for line in missing:
        render.warning(f"credentials missing for {line} (the account fails when used)")
    render.note("config ok", "green")


def main() -> None:
    """The console script ``tradeexec``."""
    app(prog_name="tradeexec")


if __name__ == "__main__":
    main()
