"""The service's HTTP surface: the TradingView webhook, the REST API, Server-Sent Events and
metrics, as one FastAPI app over `TradingService` (``tradeexec serve`` runs it)."""

from tradeexec.api.app import create_app
from tradeexec.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
