"""The soak's worker: one process running `TradingService`, killed and restarted by the driver.

    python tests/reliability/soak_worker.py JOB.json INCARNATION

It builds a `TradingService` over the job's accounts on the job's SQLite store, calls
``start()`` (the start-up reconcile and signal recovery under test), then reads JSON lines
from stdin and appends one JSON line per answer to the job's answers file:

- ``{"op": "signal", "copies": n, "signal": {...}}``: submit the signal ``n`` times at once
  (``asyncio.gather``: duplicate concurrent deliveries); one answer line per copy,
  ``{"key", "copy", "incarnation", "report"}`` (the report's ``to_dict()``), or
  ``{"key", "copy", "incarnation", "exception"}`` if ``submit`` raised.
- ``{"op": "reconcile"}``: reconcile every account; one ``{"event": "reconciled"}`` line each.
- ``{"op": "stop"}``: wait for every delivery in flight, stop the service, exit 0.

It also writes ``{"event": "ready"}`` once started, or ``{"event": "start_failed"}`` and
exits 3 if ``start()`` raised (a supervisor would restart it; so does the driver).
Nothing here knows about kills: the driver SIGKILLs this process whenever it likes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any, TextIO

from tradeexec.config import AccountConfig, AppConfig, RiskConfig
from tradeexec.domain import SignalSource
from tradeexec.service import TradingService

START_FAILED_EXIT = 3


def build_config(job: dict[str, Any]) -> AppConfig:
    """The service's configuration from the job file the driver wrote."""
    return AppConfig(
        accounts={name: AccountConfig(**fields) for name, fields in job["accounts"].items()},
        store_url=job["store_url"],
        market_cache_dir=job["market_cache_dir"],
        risk=RiskConfig(**job["risk"]),
    )


class Worker:
    def __init__(self, job: dict[str, Any], incarnation: int, answers: TextIO) -> None:
        self.job = job
        self.incarnation = incarnation
        self.answers = answers
        self.service = TradingService(build_config(job))
        self.tasks: set[asyncio.Task[None]] = set()

    def write(self, line: dict[str, Any]) -> None:
        """One JSON line, flushed to the OS at once: a SIGKILL cannot lose what was written."""
        line["incarnation"] = self.incarnation
        self.answers.write(json.dumps(line, default=str) + "\n")
        self.answers.flush()

    async def deliver(self, data: dict[str, Any], copies: int) -> None:
        key = data["idempotency_key"]
        outcomes = await asyncio.gather(
            *(self.service.submit(dict(data), SignalSource.AGENT) for _ in range(copies)),
            return_exceptions=True,
        )
        for copy, outcome in enumerate(outcomes):
            if isinstance(outcome, BaseException):
                text = "".join(traceback.format_exception(outcome))
                self.write({"key": key, "copy": copy, "exception": text})
            else:
                self.write({"key": key, "copy": copy, "report": outcome.to_dict()})

    async def reconcile_all(self) -> None:
        for account in self.service.manager.names:
            try:
                report = await self.service.reconcile(account)
                self.write({"event": "reconciled", "account": account, **report.to_dict()})
            except Exception as exc:
                self.write({"event": "reconcile_failed", "account": account, "error": repr(exc)})

    async def run(self) -> int:
        try:
            await self.service.start()
        except Exception:
            self.write({"event": "start_failed", "error": traceback.format_exc()})
            return START_FAILED_EXIT
        self.write({"event": "ready"})
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            message = json.loads(line)
            if message["op"] == "signal":
                task = asyncio.create_task(self.deliver(message["signal"], message["copies"]))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif message["op"] == "reconcile":
                await self.reconcile_all()
            elif message["op"] == "stop":
                break
        if self.tasks:
            await asyncio.gather(*self.tasks)
        await self.service.stop()
        self.write({"event": "stopped"})
        return 0


def main() -> int:
    job = json.loads(Path(sys.argv[1]).read_text())
    incarnation = int(sys.argv[2])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    with open(job["answers_path"], "a", encoding="utf-8") as answers:
        return asyncio.run(Worker(job, incarnation, answers).run())


if __name__ == "__main__":
    sys.exit(main())
