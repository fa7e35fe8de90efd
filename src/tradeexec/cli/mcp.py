"""``tradeexec mcp``: the MCP server over stdio, for an MCP client that starts it (Claude
Desktop, Cursor, an agent framework's stdio client).

stdout carries the protocol and nothing else; the log goes to stderr. The server is the
one ``tradeexec serve`` mounts at ``/mcp`` (tradeexec.mcp_server), on the configured
accounts and store; a stdio client gets ``mcp.stdio_scope`` (default ``trade``: reads and
orders; ``admin`` adds halt and resume), or ``--scope``. ``--read-only`` lists and allows
only the read tools. Unless ``--reconcile-interval`` is given it reconciles nothing (as the
CLI's order commands): ``tradeexec serve`` records fills and cancels the leg left behind.

``--sim`` starts the exchange simulator in this process and adds ``binance-sim``,
``hl-sim`` (and ``paper``) accounts on it, with a fresh store (``mcp-sim.db`` in the data
directory, unless ``--store``): an agent can trade without keys or network.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tradeexec.cli.common import ConfigOpt, StoreOpt, load_config, open_service, run

if TYPE_CHECKING:
    from tradeexec.config import AppConfig
    from tradeexec.sim.server import SimServer

__all__ = ["mcp"]


class ScopeChoice(StrEnum):
    read = "read"
    trade = "trade"
    admin = "admin"


def mcp(
    sim: Annotated[
        bool, typer.Option("--sim", help="Start the simulator and add accounts on it.")
    ] = False,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Only the read tools (listed and allowed).")
    ] = False,
    scope: Annotated[
        ScopeChoice | None,
        typer.Option(help="read, trade or admin (halt / resume); default: mcp.stdio_scope."),
    ] = None,
    reconcile_interval: Annotated[
        float,
        typer.Option(help="Seconds between reconcile passes (0: none; serve runs them)."),
    ] = 0.0,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Serve the MCP tools over stdio (an MCP client starts this command).

    Tools: list_accounts, get_ticker, get_balance, get_positions, get_orders, get_signal,
    preview_order, place_order, cancel_order, close_position (and halt, resume with
    --scope admin). Every order goes through the risk engine."""
    from tradeexec.mcp_server import McpTools, build_server

    loaded = load_config(config, store)
    server: SimServer | None = None
    if sim:
        server, loaded = _with_simulator(loaded, fresh_store=store is None)
    if read_only:
        loaded = loaded.model_copy(
            update={"mcp": loaded.mcp.model_copy(update={"read_only": True})}
        )
    service = open_service(loaded)
    service.reconcile_interval_s = reconcile_interval

    async def serve() -> None:
        # by default none: `tradeexec serve` reconciles (two processes would do it twice)
        await service.start(reconcile=reconcile_interval > 0)
        try:
            tools = McpTools(service)
            await build_server(
                tools, scope.value if scope else loaded.mcp.stdio_scope
            ).run_stdio_async()
        finally:
            await service.stop()

    try:
        run(serve())
    except KeyboardInterrupt:
        pass  # the client closing us is the normal end
    finally:
        if server is not None:
            server.stop()


def _with_simulator(config: AppConfig, *, fresh_store: bool) -> tuple[SimServer, AppConfig]:
    from tradeexec.cli.serve import _start_simulator, with_sim_accounts
    from tradeexec.config.paths import data_dir

    server = _start_simulator()
    config = with_sim_accounts(config, server, fresh_store=False)
    if fresh_store:  # not serve --sim's sim.db: both may run at once
        path = data_dir() / "mcp-sim.db"
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        config = config.model_copy(update={"store_url": f"sqlite:///{path}"})
    return server, config
