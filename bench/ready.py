"""Time to a ready trader: construct + ``connect()`` (markets included), per venue.

Variants, against one simulator running in its own process:

- ``tradeexec cold cache``: a ``MarketCache`` on a new empty temp dir (markets downloaded)
- ``tradeexec warm cache``: a ``MarketCache`` dir already holding the markets (no download)
- ``raw ccxt load_markets``: the reference, ``ccxt.<id>(config)`` + ``point_ccxt_at`` +
  ``await load_markets()``, with the options a raw user needs against this venue

Timed: from constructing the trader / exchange object to ``connect()`` /
``load_markets()`` returning. Not timed: ``close()``, and ``import ccxt.async_support``,
which is paid once before the first run (see the start-up benchmark for its cost). The
variants are interleaved run by run, rotating their order, so drift hits all alike. One
extra untimed run per variant records which exchange requests it made (from the simulator's
request log).

    python bench/ready.py [--runs 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import _benchlib as lib

VENUES = ("binance", "hyperliquid")
VARIANTS = ("tradeexec cold cache", "tradeexec warm cache", "raw ccxt load_markets")


def _trader(venue: str, creds: dict[str, str], base_url: str, cache_dir: Path) -> Any:
    from tradeexec.exchanges.market_cache import MarketCache

    cache = MarketCache(cache_dir, 3600.0)
    if venue == "binance":
        from tradeexec.exchanges.binance_futures import BinanceFuturesTrader

        return BinanceFuturesTrader(
            "bn",
            credentials={"apiKey": creds["apiKey"], "secret": creds["secret"]},
            api_url=base_url,
            market_cache=cache,
        )
    from tradeexec.exchanges.hyperliquid_trader import HyperliquidTrader

    return HyperliquidTrader(
        "hl",
        credentials={"walletAddress": creds["walletAddress"], "privateKey": creds["privateKey"]},
        api_url=base_url,
        market_cache=cache,
    )


def raw_exchange(venue: str, creds: dict[str, str], base_url: str) -> Any:
    """A raw ccxt instance on the simulator, configured as a careful ccxt user would for it:
    no rate limiter (local); for Binance USD-M no spot currency calls (the ``sapi``
    endpoints a futures-only key cannot use and the simulator does not serve); for
    Hyperliquid no referrer and no builder-fee approval. Not timed here: the import."""
    import ccxt.async_support as ccxt

    from tradeexec.exchanges.endpoints import point_ccxt_at

    if venue == "binance":
        ex = ccxt.binanceusdm(
            {
                "apiKey": creds["apiKey"],
                "secret": creds["secret"],
                "enableRateLimit": False,
                "options": {"fetchCurrencies": False},
            }
        )
    else:
        # As tradeexec does, and as the same exchange calls need: no referrer (refSet) and
        # no builder-fee approval, which ccxt otherwise sends on first private use and
        # which no option turns off (so it is switched off on the instance).
        ex = ccxt.hyperliquid(
            {
                "walletAddress": creds["walletAddress"],
                "privateKey": creds["privateKey"],
                "enableRateLimit": False,
                "options": {"refSet": True},
            }
        )

        async def no_builder_fee_approval() -> bool:
            return True

        ex.handle_builder_fee_approval = no_builder_fee_approval
    return point_ccxt_at(ex, base_url)


async def _one(
    variant: str, venue: str, creds: dict[str, str], base_url: str, cache_dir: Path
) -> float:
    """One timed construct + connect; returns seconds. Closing is not timed."""
    closer: Callable[[], Awaitable[Any]]
    if variant == "raw ccxt load_markets":
        started = time.perf_counter()
        ex = raw_exchange(venue, creds, base_url)
        await ex.load_markets()
        elapsed = time.perf_counter() - started
        closer = ex.close
        if not ex.markets:
            raise RuntimeError("raw ccxt loaded no markets")
    else:
        started = time.perf_counter()
        trader = _trader(venue, creds, base_url, cache_dir)
        await trader.connect()
        elapsed = time.perf_counter() - started
        closer = trader.close
        if not trader._markets:
            raise RuntimeError("trader has no markets after connect()")
    await closer()
    return elapsed


async def _run(runs: int, budget_s: float, sim_process: lib.SimProcess | None) -> dict[str, Any]:
    import ccxt.async_support  # noqa: F401  - the import is not what this benchmark times

    deadline = time.monotonic() + budget_s
    samples: dict[tuple[str, str], list[float]] = {(v, x): [] for v in VENUES for x in VARIANTS}
    requests: dict[tuple[str, str], list[str]] = {}
    truncated = False
    with (
        lib.simulator(sim_process) as sim,
        tempfile.TemporaryDirectory(prefix="bench-ready-") as tmp,
    ):
        root = Path(tmp)
        creds = {v: sim.create_account(v, 10_000) for v in VENUES}
        warm_dir = root / "warm"
        fresh = iter(range(10**9))

        def cache_for(variant: str) -> Path:
            return warm_dir if variant == "tradeexec warm cache" else root / f"cold-{next(fresh)}"

        for venue in VENUES:
            # untimed: fill the warm cache, build each class once, and log the requests
            await _one("tradeexec cold cache", venue, creds[venue], sim.base_url, warm_dir)
            for variant in VARIANTS:
                marker = sim.mark()
                await _one(variant, venue, creds[venue], sim.base_url, cache_for(variant))
                requests[(venue, variant)] = [
                    lib.describe_request(e) for e in sim.requests_since(marker)
                ]
        for i in range(runs):
            for venue in VENUES:
                rotation = VARIANTS[i % len(VARIANTS) :] + VARIANTS[: i % len(VARIANTS)]
                for variant in rotation:
                    if time.monotonic() > deadline:
                        truncated = True
                        break
                    samples[(venue, variant)].append(
                        await _one(variant, venue, creds[venue], sim.base_url, cache_for(variant))
                    )
    rows = []
    for (venue, variant), got in samples.items():
        if not got:
            continue
        s = lib.summarize(got)
        rows.append(
            {
                "venue": venue,
                "variant": variant,
                "n": s["n"],
                "median_ms": lib.ms(s["median"]),
                "p90_ms": lib.ms(s["p90"]),
                "min_ms": lib.ms(s["min"]),
                "max_ms": lib.ms(s["max"]),
                "requests": requests[(venue, variant)],
            }
        )
    return {"rows": rows, "truncated": truncated, "simulator": "separate process"}


def run(
    runs: int = 20, budget_s: float = 50.0, sim: lib.SimProcess | None = None
) -> dict[str, Any]:
    """``runs`` timed runs per venue and variant, within ``budget_s``; on ``sim`` if given,
    else on a simulator process of its own."""
    return asyncio.run(_run(runs, budget_s, sim))


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| venue | variant | n | median | p90 | min | max | exchange requests |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["rows"]:
        reqs = "<br>".join(f"`{q}`" for q in r["requests"]) or "none"
        lines.append(
            f"| {r['venue']} | {r['variant']} | {r['n']} | {r['median_ms']:.1f} ms "
            f"| {r['p90_ms']:.1f} ms | {r['min_ms']:.1f} ms | {r['max_ms']:.1f} ms | {reqs} |"
        )
    if results["truncated"]:
        lines.append("\nThe time budget ran out: some rows have fewer runs than asked.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.runs)
    print(json.dumps(results, indent=2) if args.json else markdown(results))


if __name__ == "__main__":
    main()
