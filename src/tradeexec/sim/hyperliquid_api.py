"""The simulator's Hyperliquid face: the real ``POST /info`` and ``POST /exchange`` API.

Unmodified ``ccxt.async_support.hyperliquid`` talks to it as to the venue: same request shapes,
same EIP-712 signatures (recovered, never trusted), same response shapes and error texts, so
ccxt raises the same exception classes. Accounts are wallet addresses (lowercase); collateral
is USDC; the asset index is the market's position in ``meta.universe``. Signatures are accepted
for mainnet, testnet or both (``network``; `SimConfig.hl_network`, default both), so ccxt in
either mode and the official Python SDK (testnet signatures at any URL but mainnet's) trade.

Route names for fault rules (`FaultSet.guard`), with the account they are matched against:

======================================  ==========================================================
route                                   account
======================================  ==========================================================
``hyperliquid.info.<type>``             ``user`` of the query (lowercase), else none. ``<type>``:
                                        meta, spotMeta, metaAndAssetCtxs, spotMetaAndAssetCtxs,
                                        perpDexs, allMids, l2Book, clearinghouseState,
                                        spotClearinghouseState, openOrders, frontendOpenOrders,
                                        orderStatus, historicalOrders, userFills,
                                        userFillsByTime, userRole, extraAgents, maxBuilderFee,
                                        referral, userAbstraction, exchangeStatus, userFees,
                                        userRateLimit
``hyperliquid.exchange.<action type>``  the account acted for (signer, agent's master, or the
                                        vault); none if the signature does not resolve.
                                        ``<action type>``: order, cancel, cancelByCloid,
                                        updateLeverage, setReferrer, approveAgent,
                                        approveBuilderFee (other venue actions answer
                                        "not supported by the simulator")
``hyperliquid.info.invalid`` /          a body that is not JSON (HTTP 400) or of the wrong shape
``hyperliquid.exchange.invalid``        (HTTP 422), as the venue answers
======================================  ==========================================================

Error mapping (engine `Reject` -> Hyperliquid text -> ccxt 4.5.90 exception):

- INSUFFICIENT_MARGIN -> ``Insufficient margin to place order. asset=N`` -> InsufficientFunds
- BELOW_MIN_NOTIONAL -> ``Order must have minimum value of $10. asset=N`` -> InvalidOrder
- BAD_PRICE -> ``Price must be divisible by tick size. asset=N`` -> InvalidOrder
- BAD_QTY / BELOW_MIN_QTY / too many size decimals -> ``Order has invalid size.`` -> InvalidOrder
- REDUCE_ONLY -> ``Reduce only order would increase position. asset=N`` -> InvalidOrder
- POST_ONLY_WOULD_CROSS -> ``Post only order would have immediately matched, bbo was B@A.
  asset=N`` -> InvalidOrder
- IOC_NO_MATCH -> ``Order could not immediately match against any resting orders. asset=N`` ->
  InvalidOrder
- UNKNOWN_ORDER / ORDER_NOT_OPEN (cancel) -> ``Order was never placed, already canceled, or
  filled. asset=N`` -> OrderNotFound; ``orderStatus`` of an unknown id -> ``{"status":
  "unknownOid"}`` -> OrderNotFound
- unknown signer -> ``L1 error: User or API Wallet 0x.. does not exist.`` -> InvalidOrder
  (ccxt's own mapping); replayed / out-of-window nonce -> ``Invalid nonce: ...`` -> ExchangeError;
  unapproved builder -> ``Builder fee has not been approved.`` -> ExchangeError
- over the per-IP weight (`sim.ratelimit`, when enforced) -> HTTP 429, body ``null`` ->
  RateLimitExceeded; over the address's request budget -> ``Too many cumulative requests
  sent (...)`` -> RateLimitExceeded
- injected 429 -> HTTP 429, body ``null`` -> RateLimitExceeded; 418 -> DDoSProtection; injected
  timeout -> the client's RequestTimeout
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from eth_account import Account
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tradeexec.sim.engine import Engine
from tradeexec.sim.face import SimContext
from tradeexec.sim.hl_signing import HL_NETWORKS, normalize_address
from tradeexec.sim.hyperliquid_exchange import ExchangeApi
from tradeexec.sim.hyperliquid_info import InfoApi
from tradeexec.sim.hyperliquid_state import HlState
from tradeexec.sim.hyperliquid_wire import (
    DESERIALIZE_ERROR,
    INFO_TYPES,
    PARSE_ERROR,
    WireError,
    parse_envelope,
)
from tradeexec.sim.ratelimit import hyperliquid_action_weight, hyperliquid_info_weight


class HyperliquidFace:
    venue = "hyperliquid"

    def __init__(self, engine: Engine, ctx: SimContext, *, network: str = "both") -> None:
        self.engine = engine
        self.ctx = ctx
        # whose signatures are accepted: "mainnet", "testnet" (ccxt sandbox mode, the official
        # SDK at any URL but mainnet's) or "both" (`hl_signing.HL_NETWORKS`)
        if network not in HL_NETWORKS:
            raise ValueError(f"hl network must be one of {sorted(HL_NETWORKS)}, got {network!r}")
        self.network = network
        self.state = HlState()
        self.info_api = InfoApi(lambda: self.engine, lambda: self.state, self._now)
        self.exchange_api = ExchangeApi(
            lambda: self.engine,
            lambda: self.state,
            self._now,
            lambda: HL_NETWORKS[self.network],
            request_clock=self.ctx.request_now,
        )

    def _now(self) -> int:
        return self.ctx.clock()

    # ------------------------------------------------------------ ExchangeFace
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/info", self._info, methods=["POST"]),
            Route("/exchange", self._exchange, methods=["POST"]),
        ]

    def create_account(self, balance: Decimal) -> dict[str, str]:
        """A new wallet with ``balance`` USDC; ``account`` is its lowercase address."""
        wallet = Account.create()
        address = str(wallet.address).lower()
        self.engine.create_account(address, balance)
        key = "0x" + bytes(wallet.key).hex()
        self.state.keys[address] = key
        return {"walletAddress": str(wallet.address), "privateKey": key, "account": address}

    def create_sub_account(self, master: str, balance: Decimal) -> dict[str, str]:
        """A sub-account of ``master`` (no key of its own: its master or agents sign for it)."""
        master = normalize_address(master)
        self.engine.account(master)
        address = str(Account.create().address).lower()
        self.engine.create_account(address, balance)
        self.state.masters[address] = master
        return {"subAccountAddress": address, "master": master, "account": address}

    def error_response(self, status: int) -> Response:
        """Hyperliquid answers throttling (429) and gateway errors with a JSON ``null`` body."""
        return JSONResponse(None, status_code=status)

    def reset(self) -> None:
        self.state = HlState()

    # ------------------------------------------------------------ test views
    def approved_builders(self, account: str) -> dict[str, int]:
        """Builder address -> approved max fee in tenths of a basis point (10 = 0.01 %)."""
        return dict(self.state.builders.get(normalize_address(account), {}))

    def referrer(self, account: str) -> str | None:
        return self.state.referrers.get(normalize_address(account))

    def approved_agents(self, account: str) -> dict[str, str]:
        """Agent name ("" for the unnamed one) -> agent address."""
        records = self.state.agents.get(normalize_address(account), {})
        return {name: r.address for name, r in records.items()}

    def builder_fees_charged(self, account: str) -> Decimal:
        self.state.sync(self.engine)
        account = normalize_address(account)
        return sum(
            (
                fee
                for f in self.engine.account_fills(account)
                if (fee := self.state.builder_fees.get(f.trade_id)) is not None
            ),
            Decimal(0),
        )

    # ----------------------------------------------------------------- routes
    async def _guard(
        self, route: str, account: str | None, handler: Callable[[], Awaitable[Response]]
    ) -> Response:
        return await self.ctx.faults.guard(route, account, handler, self.error_response)

    async def _info(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return await self._guard("hyperliquid.info.invalid", None, _text(PARSE_ERROR, 400))
        kind = body.get("type") if isinstance(body, dict) else None
        if not isinstance(kind, str) or kind not in INFO_TYPES:
            return await self._guard(
                "hyperliquid.info.invalid", None, _text(DESERIALIZE_ERROR, 422)
            )
        user = body.get("user")
        account = user.lower() if isinstance(user, str) else None
        if self.ctx.limits.hyperliquid.admit_ip(
            _ip(request), hyperliquid_info_weight(kind)
        ).refused:
            return self.error_response(429)

        async def handler() -> Response:
            self.state.sync(self.engine)
            try:
                answer = self.info_api.answer(kind, body)
                if kind == "userRateLimit" and account is not None:  # the enforced budget
                    answer = self.ctx.limits.hyperliquid.report(account, answer)
                return JSONResponse(answer)
            except WireError:
                return PlainTextResponse(DESERIALIZE_ERROR, status_code=422)

        return await self._guard(f"hyperliquid.info.{kind}", account, handler)

    async def _exchange(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return await self._guard("hyperliquid.exchange.invalid", None, _text(PARSE_ERROR, 400))
        try:
            env = parse_envelope(body)
        except WireError:
            return await self._guard(
                "hyperliquid.exchange.invalid", None, _text(DESERIALIZE_ERROR, 422)
            )
        who = self.exchange_api.identify(env)
        refused = self._over_limits(request, env.action, who.account)
        if refused is not None:
            return refused

        async def handler() -> Response:
            self.state.sync(self.engine)
            result = self.exchange_api.handle(env, who)
            self.state.sync(self.engine)
            return JSONResponse(result)

        return await self._guard(f"hyperliquid.exchange.{env.type}", who.account, handler)

    def _over_limits(
        self, request: Request, action: dict[str, Any], account: str | None
    ) -> Response | None:
        """The per-IP weight, then the per-address request budget (`sim.ratelimit`)."""
        limits = self.ctx.limits.hyperliquid
        batch = next(
            (len(v) for k in ("orders", "cancels") if isinstance(v := action.get(k), list)), 1
        )
        if limits.admit_ip(_ip(request), hyperliquid_action_weight(batch)).refused:
            return self.error_response(429)
        if account is None:
            return None
        volume = sum((f.qty * f.price for f in self.engine.account_fills(account)), Decimal(0))
        cancel = action.get("type") in ("cancel", "cancelByCloid")
        refusal = limits.admit_action(account, max(batch, 1), volume, cancel=cancel)
        if refusal is None:
            return None
        return JSONResponse({"status": "err", "response": refusal})


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _text(message: str, status: int) -> Callable[[], Awaitable[Response]]:
    async def handler() -> Response:
        return PlainTextResponse(message, status_code=status)

    return handler
