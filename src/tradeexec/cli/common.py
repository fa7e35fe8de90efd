"""What every ``tradeexec`` command shares: the typer apps, options, error handling, and
opening the config, traders and service (lazily: none of them is imported at start-up).

``-v/--verbose``, ``--log-file`` and ``--log-format`` are global: accepted anywhere on the
command line (``tradeexec order buy BTC 0.01 -v`` as well as ``tradeexec -v order ...``).
Read-only commands open the store with `reader_for`, which never creates one.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from tradeexec import errors
from tradeexec.cli.lazy import lazy_module
from tradeexec.logging_setup import register_secrets

if TYPE_CHECKING:
    from tradeexec.cli import render
else:  # rich loads when a command first prints, not for --help
    render = lazy_module("tradeexec.cli.render")

if TYPE_CHECKING:
    from tradeexec.config import AppConfig
    from tradeexec.exchanges.factory import ExchangeManager
    from tradeexec.exchanges.interface import ExchangeTrader
    from tradeexec.execution.report import ExecutionReport
    from tradeexec.service import TradingService

T = TypeVar("T")
log = logging.getLogger("tradeexec.cli")


_GLOBAL_FLAG = re.compile(r"^(-v+|--verbose)$")
_GLOBAL_VALUED = ("--log-file", "--log-format")


def hoist_global_options(args: list[str]) -> list[str]:
    """The global options moved to the front, wherever they were typed (before any ``--``)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if _GLOBAL_FLAG.match(arg) or (arg.split("=", 1)[0] in _GLOBAL_VALUED and "=" in arg):
            front.append(arg)
        elif arg in _GLOBAL_VALUED and i + 1 < len(args):
            front += [arg, args[i + 1]]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


class ErrorLineGroup(TyperGroup):
    """Turns our errors into one red line and exit status 1, for every (sub)command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:  # the root command sees the whole command line
            args = hoist_global_options(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:  # typer vendors click; its Context type is private
        try:
            return super().invoke(ctx)
        except errors.TradeExecError as exc:
            causes = " <- ".join(type(e).__name__ for e in _causes(exc))
            command = f"{ctx.command_path} {ctx.invoked_subcommand or ''}".strip()
            log.debug("%s failed: %s", command, causes)
            render.error(explain(exc), getattr(exc, "reason_code", None) or exc.code)
            raise typer.Exit(1) from None


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 8:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def explain(exc: errors.TradeExecError) -> str:
    """The error's message, plus why the network failed when it did (refused, DNS...)."""
    if isinstance(exc, errors.NetworkError):
        from tradeexec.network_diagnosis import why_unreachable

        why = why_unreachable(exc)
        if why:
            return f"{exc} ({why})"
    return str(exc)


app = typer.Typer(
    cls=ErrorLineGroup,
    name="tradeexec",
    help="One dependable path from a trading signal to an order on an exchange.",
    no_args_is_help=True,
    add_completion=False,
    # plain click help: typer's rich help pulls in rich + markdown-it (~90 ms per --help)
    rich_markup_mode=None,
    pretty_exceptions_enable=False,  # our errors print one line; others a plain traceback
    pretty_exceptions_show_locals=False,  # locals can hold credentials
)
signal_app = typer.Typer(
    cls=ErrorLineGroup, help="What happened to a signal.", no_args_is_help=True
)
config_app = typer.Typer(cls=ErrorLineGroup, help="The configuration file.", no_args_is_help=True)
app.add_typer(signal_app, name="signal")
app.add_typer(config_app, name="config")

AccountOpt = Annotated[
    str | None,
    typer.Option("--account", "-a", help="Account name from the config (default: its default)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $TRADEEXEC_CONFIG, ./config/exchange.yaml, or paper).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AllAccountsOpt = Annotated[
    str | None, typer.Option("--account", "-a", help="One account (default: all).")
]
SymbolArg = Annotated[str, typer.Argument(metavar="SYMBOL", help="BTC, BTCUSDT, BTC/USDT:USDT ...")]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL or SQLite file (default: $TRADEEXEC_STORE_URL, the config's "
        "store_url, else tradeexec.db in the user data directory or $TRADEEXEC_HOME).",
    ),
]


class Side(StrEnum):
    buy = "buy"
    sell = "sell"


class EntryType(StrEnum):
    market = "market"
    limit = "limit"


class MarginChoice(StrEnum):
    cross = "cross"
    isolated = "isolated"


# --------------------------------------------------------------------------- plumbing


def run(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio  # here, not at the top: ~15 ms that `tradeexec --help` does not need

    return asyncio.run(coro)


def fail(message: str, code: str) -> typer.Exit:
    render.error(message, code)
    return typer.Exit(1)


def load_config(path: Path | None, store: str | None = None) -> AppConfig:
    """The configuration, with ``--store`` applied; its secrets are kept out of every log."""
    from tradeexec import config
    from tradeexec.config.paths import store_url_from

    # a literal secret in the file is also logged (once, naming the key, never the value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = config.load_config(path)
    if store:
        loaded = loaded.model_copy(update={"store_url": store_url_from(store, Path.cwd())})
    register_secrets(loaded.secret_values())
    log.debug(
        "config %s: %d accounts, store %s, market cache %s",
        config.find_config_file(path) or "(environment / paper default)",
        len(loaded.accounts), loaded.redacted()["store_url"], loaded.market_cache_dir,
    )  # fmt: skip
    return loaded


def store_exists(config: AppConfig) -> bool:
    """False when the store is a SQLite file not created yet (a server database: True)."""
    from tradeexec.config.paths import sqlite_file

    path = sqlite_file(config.store_url)
    return path is None or path.is_file()


@asynccontextmanager
async def manager_for(config: AppConfig) -> AsyncIterator[ExchangeManager]:
    """Traders without the store: for reads that record nothing."""
    from tradeexec.exchanges.factory import ExchangeManager

    manager = ExchangeManager(config)
    try:
        yield manager
    finally:
        await manager.close_all()


@asynccontextmanager
async def trader_for(config: AppConfig, account: str | None) -> AsyncIterator[ExchangeTrader]:
    async with manager_for(config) as manager:
        yield await manager.get(account)


def open_service(config: AppConfig) -> TradingService:
    """A service on the configured store; a store that cannot be opened is a ConfigError."""
    from sqlalchemy.exc import SQLAlchemyError

    from tradeexec.service import TradingService

    try:
        return TradingService(config)
    except (SQLAlchemyError, ImportError, OSError) as exc:  # bad URL, missing driver, no dir
        shown = config.redacted()["store_url"]
        detail = (str(exc).splitlines() or [""])[0].replace(config.store_url, shown)
        raise errors.ConfigError(
            f"cannot open the store {shown}: {type(exc).__name__}: {detail}"
        ) from None


@asynccontextmanager
async def reader_for(config: AppConfig) -> AsyncIterator[TradingService | None]:
    """A service for commands that only read the store; None (nothing recorded yet) when
    the store does not exist, which is never created by reading."""
    if not store_exists(config):
        yield None
        return
    async with service_for(config) as service:
        yield service


@asynccontextmanager
async def service_for(config: AppConfig) -> AsyncIterator[TradingService]:
    service = open_service(config)
    try:
        await service.start(reconcile=False)  # `tradeexec reconcile` does that on request
        yield service
    finally:
        await service.stop()  # closes the store it opened


def finish_report(report: ExecutionReport, as_json: bool) -> None:
    if as_json:
        render.print_json(render.report_json(report))
    else:
        render.print_report(report)
    if not report.success:
        raise typer.Exit(1)
