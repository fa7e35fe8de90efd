"""The MCP server: agents trade through the same risk engine as every other door.

``tradeexec mcp`` serves it over stdio (``tradeexec.cli.mcp``); ``tradeexec serve`` mounts
it at ``/mcp`` (streamable HTTP, bearer tokens with scopes as the REST API's; see
``tradeexec.mcp_server.http``). The tools are thin over `TradingService` (``tools.py``);
what the server enforces on top of the risk engine is in ``guards.py``.
"""

from tradeexec.mcp_server.guards import McpRefusal, access_of, account_kind
from tradeexec.mcp_server.server import SCOPE_OF, build_server
from tradeexec.mcp_server.tools import McpTools

__all__ = ["SCOPE_OF", "McpRefusal", "McpTools", "access_of", "account_kind", "build_server"]
