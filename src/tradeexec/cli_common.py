"""What every ``tradeexec`` command shares: the typer apps, options, error handling, and
opening the config, traders and service (lazily: none of them is imported at start-up).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import warnings
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from tradeexec import cli_render as render
from tradeexec import errors

if TYPE_CHECKING:
    from tradeexec.config import AppConfig
    from tradeexec.exchanges.factory import ExchangeManager
    from tradeexec.exchanges.interface import ExchangeTrader
    from tradeexec.execution.report import ExecutionReport
    from tradeexec.service import TradingService

T = TypeVar("T")


class ErrorLineGroup(TyperGroup):
    """Turns our errors into one red line and exit status 1, for every (sub)command."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click; its Context type is private
        try:
            return super().invoke(ctx)
        except errors.TradeExecError as exc:
            render.error(str(exc), getattr(exc, "reason_code", None) or exc.code)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=ErrorLineGroup,
    name="tradeexec",
    help="One dependable path from a trading signal to an order on an exchange.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",  # re-wraps docstring paragraphs
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


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # logging must never break the command
            self.handleError(record)


def setup_logging(verbose: bool) -> None:
    logger = logging.getLogger("tradeexec")
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fail(message: str, code: str) -> typer.Exit:
    render.error(message, code)
    return typer.Exit(1)


def load_config(path: Path | None) -> AppConfig:
    from tradeexec import config

    # a literal secret in the file is also logged (once, naming the key, never the value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return config.load_config(path)


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
