"""The guards the MCP server enforces on top of the risk engine: which accounts it sees,
what it may do there, confirmation tokens, per-account MCP limits, read-only mode, and
refusals an agent can act on. The tools are called on the server object itself (the
transports are tested in test_mcp_stdio.py and test_mcp_http.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcp.types import CallToolResult
from mcp_harness import READ_TOOLS, data, funded, mcp_config, order_args, refusal, text

from tradeexec.config import AccountConfig, AppConfig
from tradeexec.mcp_server import McpRefusal, McpTools, access_of, account_kind, build_server
from tradeexec.mcp_server.guards import Confirmations, McpLimiter
from tradeexec.service import TradingService
from tradeexec.sim.faults import FaultRule
from tradeexec.sim.server import SimServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("account", "kind", "access"),
    [
        ({"type": "paper"}, "paper", "trade"),
        ({"type": "binance", "api_url": "http://127.0.0.1:8765"}, "simulator", "trade"),
        ({"type": "hyperliquid", "api_url": "http://localhost:9"}, "simulator", "trade"),
        ({"type": "binance"}, "live", "read"),
        ({"type": "binance", "demo": True}, "live", "read"),  # not the simulator: explicit
        ({"type": "binance", "api_url": "https://proxy.example"}, "live", "read"),
        ({"type": "binance", "mcp": "trade"}, "live", "read"),  # trade is not enough live
        ({"type": "binance", "mcp": "live"}, "live", "confirm"),
        ({"type": "paper", "mcp": "live"}, "paper", "confirm"),
        ({"type": "paper", "mcp": "read"}, "paper", "read"),
        ({"type": "paper", "mcp": "off"}, "paper", "off"),
    ],
)
def test_what_mcp_may_do_on_an_account(account: dict[str, Any], kind: str, access: str) -> None:
    config = AccountConfig.model_validate(account)
    assert (account_kind(config), access_of(config)) == (kind, access)


def test_config_names_only_known_accounts() -> None:
    with pytest.raises(ValueError, match="mcp: unknown account"):
        AppConfig.model_validate({"accounts": {"p": {"type": "paper"}}, "mcp": {"accounts": ["x"]}})
    config = AppConfig.model_validate(
        {
            "accounts": {"p": {"type": "paper"}, "q": {"type": "paper"}},
            "mcp": {"max_order_notional": 100, "per_account": {"p": {"max_orders_per_minute": 2}}},
        }
    )
    assert config.mcp.limits_for("p").model_dump() == {
        "max_order_notional": Decimal(100),
        "max_orders_per_minute": 2,
    }
    assert config.mcp.limits_for("q").max_orders_per_minute is None


def test_a_confirmation_token_is_single_use_short_lived_and_bound() -> None:
    clock = Clock()
    tokens = Confirmations(60, clock)

    def code(token: str | None, account: str = "a", fp: str = "f") -> str:
        with pytest.raises(McpRefusal) as refused:
            tokens.redeem(token, account, fp)
        assert "preview_order" in (refused.value.would_pass or "")
        return refused.value.code

    assert code(None) == "confirmation_required"
    assert code("ct_made_up") == "confirmation_invalid"
    first = tokens.mint("a", "f")
    assert code(first, fp="g") == "confirmation_mismatch"
    assert code(first, account="b") == "confirmation_mismatch"
    tokens.redeem(first, "a", "f")  # the match: used up
    assert code(first) == "confirmation_used"
    late = tokens.mint("a", "f")
    clock.now += 61
    assert code(late) == "confirmation_expired"


def test_mcp_orders_per_minute_slide() -> None:
    clock = Clock()
    config = AppConfig.model_validate(
        {"accounts": {"p": {"type": "paper"}}, "mcp": {"max_orders_per_minute": 2}}
    )
    limiter = McpLimiter(config, clock)
    for _ in range(2):
        limiter.check_rate("p")
        limiter.note_order("p")
        clock.now += 10
    with pytest.raises(McpRefusal, match="limit 2") as refused:
        limiter.check_rate("p")
    assert refused.value.would_pass == "retry in 41 s"
    clock.now += 41
    limiter.check_rate("p")


# ------------------------------------------------------------------ the server itself


Call = Callable[..., Any]


@pytest.fixture
async def served(sim_server: SimServer, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """A factory: the MCP server for a config's ``mcp:`` section, on a started service."""
    services: list[TradingService] = []
    creds = funded(sim_server)

    async def make(scope: str = "trade", **mcp: Any) -> Call:
        config = mcp_config(sim_server, tmp_path, creds, **mcp)
        service = TradingService(config)
        services.append(service)
        await service.start()
        server = build_server(McpTools(service), scope)  # type: ignore[arg-type]

        async def call(tool: str, **args: Any) -> CallToolResult:
            if tool == "tools":
                return [t.name for t in await server.list_tools()]  # type: ignore[return-value]
            result = await server.call_tool(tool, args)
            assert isinstance(result, CallToolResult)
            return result

        return call

    yield make
    for service in services:
        await service.stop()


async def test_the_allow_list_hides_accounts(served: Callable[..., Any]) -> None:
    call = await served(accounts=["paper", "bn"])
    names = [a["name"] for a in data(await call("list_accounts"))["accounts"]]
    assert names == ["bn", "paper"]
    line = refusal(await call("get_balance", account="live"))
    assert line == "unknown_account: no account named 'live'; would pass: one of ['bn', 'paper']"
    assert set(data(await call("get_positions"))["accounts"]) == {"bn", "paper"}


async def test_mcp_limits_refuse_with_what_would_pass(served: Callable[..., Any]) -> None:
    call = await served(per_account={"bn": {"max_order_notional": 500, "max_orders_per_minute": 2}})
    # 0.01 BTC at ~67 500 is ~675: above the MCP limit, within the risk limits
    line = refusal(await call("place_order", **order_args(idempotency_key="n1")))
    assert line.startswith("mcp_max_order_notional: ")
    assert "would pass: quantity ≤ 0.007" in line
    preview = data(await call("preview_order", **order_args()))
    assert (preview["approved"], preview["reason"]) == (False, "mcp_max_order_notional")
    assert "confirmation_token" not in preview
    for key in ("n2", "n3"):
        placed = await call("place_order", **order_args(quantity=0.005, idempotency_key=key))
        assert data(placed)["status"] == "filled"
    line = refusal(await call("place_order", **order_args(quantity=0.005, idempotency_key="n4")))
    assert line.startswith("mcp_order_rate: 2 orders through MCP in the last minute")
    # other accounts keep their own (absent) MCP limits
    placed = await call("place_order", **order_args(account="paper", idempotency_key="n5"))
    assert data(placed)["status"] == "filled"


async def test_read_only_mode_lists_and_allows_only_reads(served: Callable[..., Any]) -> None:
    call = await served("admin", read_only=True)
    assert set(await call("tools")) == READ_TOOLS
    for tool, args in [
        ("place_order", order_args(idempotency_key="ro")),
        ("halt", {}),
        ("resume", {}),
    ]:
        assert refusal(await call(tool, **args)).startswith("read_only: this MCP server")


async def test_refusals_an_agent_can_act_on(served: Callable[..., Any]) -> None:
    call = await served()
    line = refusal(await call("place_order", **order_args(confidence=0.3, idempotency_key="c")))
    assert line.startswith("low_confidence: ") and "would pass: confidence ≥ 0.6" in line
    assert "(signal " in line  # recorded: get_signal tells its story
    story = data(await call("get_signal", signal="c"))
    assert story["signal"]["status"] == "rejected"
    assert story["signal"]["source"] == "mcp"
    # arguments outside the schema: named, never echoed
    missing = dict(order_args(idempotency_key="m"))
    del missing["confidence"]
    assert refusal(await call("place_order", **missing)) == (
        "invalid_request: confidence: Field required"
    )
    line = refusal(await call("place_order", **order_args(side="hold", idempotency_key="s")))
    assert line.startswith("invalid_request: side: ")
    line = refusal(await call("place_order", **order_args(symbol="NOPE", idempotency_key="u")))
    assert line.startswith("unknown_symbol: ")
    line = refusal(await call("cancel_order", order_id="123456", symbol="BTC"))
    assert line.startswith("order_not_found: ")


async def test_a_live_account_is_read_only_unless_configured(
    sim_server: SimServer, tmp_path: Path
) -> None:
    config = AppConfig.model_validate(
        {
            "accounts": {
                "real": {"type": "binance", "api_key": "k" * 16, "api_secret": "s" * 16},
                "paper": {"type": "paper"},
            },
            "store_url": f"sqlite:///{tmp_path / 'real.db'}",
        }
    )
    service = TradingService(config)
    await service.start()
    try:
        server = build_server(McpTools(service), "trade")
        listed = await server.call_tool("list_accounts", {})
        assert isinstance(listed, CallToolResult)
        real = data(listed)["accounts"][0]
        assert (real["name"], real["kind"], real["mcp"]) == ("real", "live", "read")
        args = order_args(account="real", idempotency_key="r")
        placed = await server.call_tool("place_order", args)
        assert isinstance(placed, CallToolResult)
        assert refusal(placed) == (
            "mcp_read_only_account: MCP may only read account 'real' (it is a live account); "
            "would pass: set mcp: live in its config to trade it with confirmation tokens"
        )
    finally:
        await service.stop()


async def test_an_unknown_outcome_says_retry_with_the_same_key(
    served: Callable[..., Any], sim_server: SimServer
) -> None:
    call = await served()
    rule = FaultRule(route="binance.order.create", kind="status", status=503, times=1)
    sim_server.simulator.ctx.faults.rules.append(rule)
    first = await call("place_order", **order_args(idempotency_key="u1"))
    assert refusal(first).startswith("order_outcome_unknown: the order MAY have been placed")
    assert "same idempotency_key" in refusal(first)
    retry = await call("place_order", **order_args(idempotency_key="u1"))
    assert not text(retry).startswith("order_outcome_unknown")  # the first one's truth
    assert retry.structuredContent is not None
    found = retry.structuredContent.get("report", retry.structuredContent)
    assert found["signal_id"] == first.structuredContent["report"]["signal_id"]  # type: ignore[index]
    held = data(await call("get_positions", account="bn"))["accounts"]["bn"]
    assert sum(Decimal(p["quantity"]) for p in held) <= Decimal("0.01")  # never a second entry
