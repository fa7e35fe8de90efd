"""The command line (``tradeexec``): a typer app, one module per command group.

- ``main``: the app, its global options, and the small commands (config, balance, ...);
- ``ops``: trading and operations (order, cancel, close, halt, resume, state, reconcile,
  signal show); ``serve``: the service and ``signal list``; ``mcp``: the MCP server (stdio);
- ``demo``: the scripted demo; ``common``: shared plumbing; ``render`` / ``table_fit``: output.

Heavy layers (ccxt, SQLAlchemy, the service) load only when a command needs them, so
``tradeexec --help`` stays fast.
"""

from tradeexec.cli.main import app, main

__all__ = ["app", "main"]
