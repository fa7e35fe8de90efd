"""Markets cached on disk with a time-to-live, so a restart does not re-download them.

One JSON file per (ccxt id, endpoint): a trader pointed at the simulator never reads the
markets of the real exchange, and the reverse. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MarketCache:
    directory: Path
    ttl_s: float = 3600.0

    def _path(self, exchange_id: str, endpoint: str) -> Path:
        digest = hashlib.sha256(endpoint.encode()).hexdigest()[:12]
        return self.directory / f"{exchange_id}-{digest}.json"

    def load(self, exchange_id: str, endpoint: str) -> dict[str, Any] | None:
        """The cached ``{'markets', 'currencies'}``, or None when missing, stale or unreadable."""
        path = self._path(exchange_id, endpoint)
        try:
            if time.time() - path.stat().st_mtime > self.ttl_s:
                return None
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or "markets" not in data:
            return None
        return data

    def save(self, exchange_id: str, endpoint: str, markets: Any, currencies: Any) -> None:
        path = self._path(exchange_id, endpoint)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"markets": markets, "currencies": currencies}, default=str)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".markets-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(payload)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
