"""``tradeexec serve`` (the service) and ``tradeexec signal list``.

``serve`` runs the API (TradingView webhook, REST, events, metrics) and the background work
(start-up reconcile and signal recovery, the reconcile loop) in one process. Its first line
on stdout is one JSON object::

    {"base_url": "http://127.0.0.1:8000", "webhook_url": ".../webhooks/tradingview",
     "api_token": "te_...", "webhook_secret": "tv_...", "accounts": [...], "simulator": null}

``api_token`` / ``webhook_secret`` are shown only when they were generated (and stored,
0600, in the data directory); configured ones are never printed (``null``).

``--sim`` starts the exchange simulator in-process and adds ``binance-sim`` (Binance USD-M)
and ``hl-sim`` (Hyperliquid) accounts pointed at it, funded with fresh credentials, so the
real ccxt paths run offline; they become the default account. Unless ``--store`` is given,
the store is then ``sim.db`` in the data directory, started afresh each time (the
simulator's exchange state does not outlive the process either).

``--replica-id ID`` (or ``TRADEEXEC_REPLICA_ID``; ``auto``: host name and process id) runs
the process as one of several replicas on one PostgreSQL store (`ReplicaCoordinator`): it
answers every webhook and REST call, but executes and reconciles only the accounts whose
lease it holds; the others' signals are recorded and their owner woken. Without it the
process owns every account, as on SQLite (where ``--replica-id`` is refused).
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradeexec.cli.common import (
    AccountOpt,
    ConfigOpt,
    JsonOpt,
    StoreOpt,
    fail,
    load_config,
    reader_for,
    run,
)
from tradeexec.cli.lazy import lazy_module

if TYPE_CHECKING:
    from tradeexec.cli import render
else:  # rich loads when a command first prints, not for --help
    render = lazy_module("tradeexec.cli.render")

if TYPE_CHECKING:
    from tradeexec.config import AppConfig
    from tradeexec.replica import ReplicaCoordinator
    from tradeexec.service import TradingService
    from tradeexec.sim.server import SimServer

__all__ = ["serve", "signal_list"]

SIM_BALANCE = 10000


def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: service.host).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default: service.port; 0: any free port).")
    ] = None,
    sim: Annotated[
        bool, typer.Option("--sim", help="Start the simulator and add accounts on it.")
    ] = False,
    reconcile_interval: Annotated[
        float | None,
        typer.Option(help="Seconds between reconcile passes (0: off; default: config)."),
    ] = None,
    replica_id: Annotated[
        str | None,
        typer.Option(
            envvar="TRADEEXEC_REPLICA_ID",
            help="Run as one of several replicas on a PostgreSQL store, under this id "
            "('auto': host name and process id). Default: one process, owning every account.",
        ),
    ] = None,
    lease_ttl: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="With --replica-id: an account lease's length in seconds "
            "(a dead replica's accounts are taken over within it).",
        ),
    ] = 10.0,
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Run the service: TradingView webhook, REST API, events, metrics, reconcile loop.

    The first line on stdout is a JSON object: base_url, webhook_url, and the API token and
    webhook secret when they were generated (stored 0600 in the data directory)."""
    import uvicorn

    from tradeexec.api import ApiSettings, create_app
    from tradeexec.cli.common import open_service
    from tradeexec.config.paths import data_dir

    loaded = load_config(config, store)
    server: SimServer | None = None
    if sim:
        server = _start_simulator()
        loaded = with_sim_accounts(loaded, server, fresh_store=store is None)
    bind_host = host or loaded.service.host
    bind_port = loaded.service.port if port is None else port
    try:
        sock = _listen(bind_host, bind_port)
    except OSError as exc:
        if server is not None:
            server.stop()
        raise fail(
            f"cannot listen on {bind_host}:{bind_port}: {exc.strerror or exc}", "serve_error"
        ) from None
    settings = ApiSettings.from_config(loaded.service, data_dir())
    service = open_service(loaded)
    interval = (
        loaded.service.reconcile_interval_s if reconcile_interval is None else reconcile_interval
    )
    service.reconcile_interval_s = interval
    replica = None
    if replica_id is not None:
        if service.store.engine.dialect.name != "postgresql":
            service.store.close()
            if server is not None:
                server.stop()
            sock.close()
            raise fail("--replica-id needs a PostgreSQL store (store_url)", "serve_error")
        replica = _coordinator(service, replica_id, interval, lease_ttl)
    app = create_app(service, settings, replica=replica)
    base_url = f"http://{_shown_host(bind_host)}:{sock.getsockname()[1]}"
    banner = {
        "base_url": base_url,
        "webhook_url": f"{base_url}/webhooks/tradingview",
        "dashboard_url": f"{base_url}/ui/",
        "api_token": settings.generated.get("api_token"),
        "webhook_secret": settings.generated.get("webhook_secret"),
        "accounts": list(loaded.accounts),
        "default_account": loaded.default_account_name,
        "simulator": server.base_url if server is not None else None,
        "replica_id": None if replica is None else replica.replica_id,
    }
    print(json.dumps(banner), flush=True)
    _next_steps(banner)
    import asyncio  # here, not at the top: `tradeexec --help` does not need it

    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    try:
        asyncio.run(uv.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the service is stopped: no traceback
    finally:
        sock.close()
        if server is not None:
            server.stop()


def _coordinator(
    service: TradingService, replica_id: str, interval: float, ttl_s: float
) -> ReplicaCoordinator:
    """This process as one replica: it holds the accounts it can lease and reconciles only
    those (every ``interval`` seconds; 0 leaves wake-ups and takeovers only)."""
    import os

    from tradeexec.replica import ReplicaCoordinator

    if replica_id == "auto":
        replica_id = f"{socket.gethostname()}-{os.getpid()}"
    return ReplicaCoordinator(
        service,
        replica_id,
        ttl_s=ttl_s,
        reconcile_interval_s=interval if interval > 0 else 3600.0,
    )


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _shown_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _start_simulator() -> SimServer:
    from tradeexec.sim.app import SimConfig
    from tradeexec.sim.server import SimServer

    return SimServer(SimConfig(seed=7)).start()


def with_sim_accounts(config: AppConfig, server: SimServer, *, fresh_store: bool) -> AppConfig:
    """``config`` plus ``binance-sim`` and ``hl-sim`` on the simulator (and ``paper`` when
    there is none), ``binance-sim`` the default; with ``fresh_store`` the store is a new
    ``sim.db`` in the data directory."""
    from decimal import Decimal

    from tradeexec.config import AccountConfig
    from tradeexec.config.paths import data_dir

    binance = server.simulator.binance.create_account(Decimal(SIM_BALANCE))
    hyperliquid = server.simulator.hyperliquid.create_account(Decimal(SIM_BALANCE))
    accounts = dict(config.accounts)
    accounts["binance-sim"] = AccountConfig(
        type="binance", api_url=server.base_url, api_key=binance["apiKey"],
        api_secret=binance["secret"],
    )  # fmt: skip
    accounts["hl-sim"] = AccountConfig(
        type="hyperliquid", api_url=server.base_url,
        wallet_address=hyperliquid["walletAddress"], private_key=hyperliquid["privateKey"],
    )  # fmt: skip
    if "paper" not in accounts:
        accounts["paper"] = AccountConfig(type="paper")
    update: dict[str, Any] = {"accounts": accounts, "default_account": "binance-sim"}
    if fresh_store:
        path = data_dir() / "sim.db"
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        update["store_url"] = f"sqlite:///{path}"
    from tradeexec.logging_setup import register_secrets

    register_secrets([binance["secret"], binance["apiKey"], hyperliquid["privateKey"]])
    return config.model_copy(update=update)


def _next_steps(banner: dict[str, Any]) -> None:
    """What to do next, on stderr (stdout's first line is the banner)."""
    base = banner["base_url"]
    token = banner["api_token"] or "$TRADEEXEC_API_TOKEN"
    secret = banner["webhook_secret"] or "<your webhook secret>"
    lines = [
        f"tradeexec is serving on {base} (accounts: {', '.join(banner['accounts'])}); "
        "Ctrl-C stops it",
        "next steps (README: 'The service'):",
        f"  curl -s {base}/health",
        f"  curl -s -X POST {banner['webhook_url']} -H 'Content-Type: text/plain' \\",
        f'    -d \'{{"passphrase": "{secret}", "ticker": "BTCUSDT", "action": "buy", '
        '"contracts": "0.01", "stop_loss_pct": 0.02, "take_profit_pct": 0.03, '
        f'"price": "<BTC price>"}}\'',
        f"  curl -s {base}/signals -H 'Authorization: Bearer {token}'",
        f"  open {banner['dashboard_url']}   # the dashboard: sign in with the API token",
        f"  open {base}/docs   # the API, with a token from above",
    ]
    if banner.get("simulator"):
        lines.append(
            f"  curl -s -X POST {banner['simulator']}/_sim/prices -d "
            '\'{"coin": "BTC", "price": "60000"}\'   # move the simulated price'
        )
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def signal_list(
    account: AccountOpt = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status (filled, rejected...).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only this source (tradingview, agent...).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many (newest first).")] = 20,
    before: Annotated[int | None, typer.Option(help="Only signals with an id below this.")] = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List recorded signals, newest first, with their status and reason."""
    loaded = load_config(config, store)

    async def go() -> list[Any]:
        async with reader_for(loaded) as service:
            if service is None:
                return []
            return await service.list_signals(
                account=account, status=status, source=source, before_id=before, limit=limit
            )

    found = run(go())
    if as_json:
        render.print_json(found)
        return
    table = render.new_table(
        f"signals ({len(found)})", "id", "recorded", "account", "symbol", "source", "status",
        "reason", "key",
    )  # fmt: skip
    for s in found:
        table.add_row(
            str(s.id), s.created_at.strftime("%Y-%m-%d %H:%M:%S"), s.account, s.symbol,
            s.source, s.status, s.status_reason or "", s.idempotency_key,
        )  # fmt: skip
    render.show(table)
