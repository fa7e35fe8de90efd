"""The TradingView webhook: ``POST /webhooks/tradingview`` (secret in the body's
``passphrase``) and ``POST /webhooks/tradingview/{secret}`` (secret in the path).

What happens to an alert, in order (each refusal is a problem document and is recorded):

1. the source address, when an allow-list is configured (403 ``ip_not_allowed``);
2. the secret: one of the configured sources' (401 ``unauthorized``); a text body that is
   not JSON is still recognised by the secret inside it, to say what is wrong with it;
3. the payload: JSON or ``text/plain`` holding JSON; unknown fields, unrendered
   placeholders and bad numbers are 422 ``invalid_signal`` (400 for a body that is not JSON);
4. the account: one the source may trade (403 ``account_not_allowed``), and configured
   (422 ``unknown_account``);
5. age: an alert whose ``time`` is older than the entry window (exits: the exit window)
   is recorded ``rejected`` / ``stale_signal`` (422);
6. order: a target-position alert older than the newest one recorded for the same source
   and symbol is recorded ``rejected`` / ``out_of_order`` (409), so a late alert never
   undoes a newer one;
7. the signal is recorded durably and answered 202 at once; execution continues in the
   background (a crash after the answer is recovered at start-up). A re-delivered alert is
   answered 200 with what the first delivery came to. Once a signal is recorded, the answer
   is never a 5xx (TradingView re-sends on some).

Extra fields beyond the TradingView mapping (``execution.tradingview``):
``stop_loss_pct`` / ``take_profit_pct``, fractions of ``price`` (``{{close}}``):
``0.02`` puts a long's stop 2 % below it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tradeexec.api.auth import client_ip, find_by_secret, ip_allowed, settings_of
from tradeexec.api.problems import Problem, documented
from tradeexec.api.settings import ApiSettings, WebhookSource
from tradeexec.errors import InvalidSignal
from tradeexec.execution.intake import Accepted
from tradeexec.execution.report import ExecutionReport
from tradeexec.execution.signals import Signal, parse_number, scrub
from tradeexec.execution.tradingview import signal_from_tradingview
from tradeexec.service import TradingService
from tradeexec.telemetry import Telemetry

__all__ = ["ALERT_FIELDS", "WebhookDoor", "router"]

log = logging.getLogger("tradeexec.api.webhook")

#: every field an alert may carry (anything else is refused: a typo must not pass silently)
ALERT_FIELDS = frozenset(
    {
        "passphrase", "secret", "ticker", "symbol", "exchange", "action", "side",
        "contracts", "qty", "quantity", "price", "order_id", "comment", "position_size",
        "market_position", "prev_market_position", "time", "account", "stop_loss",
        "take_profit", "stop_loss_pct", "take_profit_pct", "leverage", "confidence",
        "order_type", "reduce_only", "notional", "sizing_mode", "idempotency_key", "interval",
        "strategy",
    }
)  # fmt: skip

_RESPONSES = documented(
    {
        200: "A re-delivered alert: what the first delivery came to",
        202: "Recorded durably; executing in the background",
        400: "The body is not JSON",
        401: "No or wrong secret",
        403: "Source address or account not allowed",
        409: "out_of_order, or the key was used for a different alert",
        413: "Body too large",
        422: "invalid_signal, unknown_account or stale_signal (recorded)",
        503: "The store could not record the alert (nothing was recorded)",
    }
)
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "additionalProperties": True},
                "example": {
                    "passphrase": "tv_...",
                    "ticker": "BTCUSDT",
                    "action": "buy",
                    "contracts": "0.01",
                    "price": "67500",
                    "time": "2025-01-01T12:00:00Z",
                    "stop_loss_pct": 0.02,
                    "take_profit_pct": 0.03,
                },
            },
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/tradingview",
    summary="TradingView alert (secret in the body's passphrase)",
    responses=_RESPONSES,
    openapi_extra=_BODY,
    status_code=202,
)
async def tradingview(request: Request) -> JSONResponse:
    return await _door(request).handle(request, None)


@router.post(
    "/webhooks/tradingview/{secret}",
    summary="TradingView alert (secret in the path)",
    responses=_RESPONSES,
    openapi_extra=_BODY,
    status_code=202,
)
async def tradingview_secret_in_path(secret: str, request: Request) -> JSONResponse:
    return await _door(request).handle(request, secret)


def _door(request: Request) -> WebhookDoor:
    door = request.app.state.webhook
    assert isinstance(door, WebhookDoor)
    return door


class WebhookDoor:
    def __init__(self, service: TradingService, telemetry: Telemetry) -> None:
        self.service = service
        self.telemetry = telemetry
        # source + symbol -> lock: a target-position alert's out-of-order check and its
        # record are one step (other alerts have no order to keep: they take no lock, so
        # their records can share one commit)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def handle(self, request: Request, path_secret: str | None) -> JSONResponse:
        started = time.perf_counter()
        settings = settings_of(request)
        ip = client_ip(request, settings.trusted_proxies)
        if settings.allow_ips is not None and not ip_allowed(ip, settings.allow_ips):
            await self._refused(None, "ip_not_allowed", ip=ip)
            raise Problem(403, "ip_not_allowed", f"{ip} is not an allowed alert source")
        body = await request.body()
        data, text = _parse(body)
        source = self._authenticate(settings, path_secret, data, text)
        if source is None:
            await self._refused(None, "unauthorized", ip=ip)
            raise Problem(401, "unauthorized", "no or wrong webhook secret")
        signal = await self._signal(source, data, text, settings)
        stale = _staleness(signal, data, settings)
        # a store read only for an alert that would be refused: a re-delivery of a known key
        # is answered with what it came to, however old (the common path reads nothing)
        if stale is not None and not await self.service.signal_known(signal.idempotency_key):
            await self._refuse_stale(source, signal, stale)
        if signal.target_position is None:  # nothing to order: alerts record side by side
            accepted = await self._accept(signal)
        else:  # the out-of-order check and the record are one step per source and symbol
            async with self._locks.setdefault((source.name, signal.symbol), asyncio.Lock()):
                if not await self.service.signal_known(signal.idempotency_key):
                    await self._refuse_if_out_of_order(source, signal)
                accepted = await self._accept(signal)
        conflict = accepted.answer
        if conflict is not None and conflict.reason == "idempotency_conflict":
            raise Problem(
                409, "idempotency_conflict", conflict.error or "", signal_id=conflict.signal_id
            )
        try:  # recorded: from here on the answer is never a 5xx
            return self._answer(source, signal, accepted, started)
        except Exception:
            log.exception("answering a recorded alert failed; it executes anyway")
            return JSONResponse(
                {"status": "accepted", "idempotency_key": signal.idempotency_key}, status_code=202
            )

    # ----------------------------------------------------------------- the steps
    async def _accept(self, signal: Signal) -> Accepted:
        """Record durably and queue the execution; a store failure is a 503 (nothing was
        recorded, so sending it again is safe)."""
        try:
            return await self.service.accept_signal(signal)
        except Exception:
            log.exception("could not record a TradingView alert; nothing was recorded")
            raise Problem(
                503,
                "store_unavailable",
                "the alert could not be recorded; send it again",
                headers={"Retry-After": "1"},
            ) from None

    def _authenticate(
        self,
        settings: ApiSettings,
        path_secret: str | None,
        data: dict[str, Any] | None,
        text: str | None,
    ) -> WebhookSource | None:
        def key(s: WebhookSource) -> str:
            return s.secret

        if path_secret is not None:
            return find_by_secret(settings.sources, path_secret, key)
        if data is not None:
            given = data.get("passphrase", data.get("secret"))
            return find_by_secret(settings.sources, given, key) if isinstance(given, str) else None
        if text:  # not JSON: recognise the sender by its secret, to say what is wrong
            return next((s for s in settings.sources if s.secret in text), None)
        return None

    async def _signal(
        self,
        source: WebhookSource,
        data: dict[str, Any] | None,
        text: str | None,
        settings: ApiSettings,
    ) -> Signal:
        try:
            if data is None:
                signal_from_tradingview(text or "", received_at=datetime.now(UTC))
                raise InvalidSignal("the alert body is not a JSON object")
            unknown = sorted(set(data) - ALERT_FIELDS)
            if unknown:
                raise InvalidSignal(
                    f"unknown field(s) {', '.join(map(repr, unknown))}; an alert may carry "
                    f"{', '.join(sorted(ALERT_FIELDS - {'secret'}))}"
                )
            defaults = {"account": source.account, "webhook_source": source.name}
            signal = signal_from_tradingview(data, received_at=datetime.now(UTC), defaults=defaults)
            signal = _percent_legs(signal, data)
        except InvalidSignal as exc:
            await self._refused(
                None, exc.code, source=source.name, detail=str(exc),
                body=_redacted(data, text, settings),
            )  # fmt: skip
            status = 400 if data is None else 422
            raise Problem(status, exc.code, str(exc)) from None
        account = signal.account or self.service.manager.default_name()
        if account not in self.service.manager.names:
            await self._refused(None, "unknown_account", source=source.name)
            raise Problem(422, "unknown_account", f"no account named {account!r}")
        if not source.may_trade(account):
            await self._refused(account, "account_not_allowed", source=source.name)
            raise Problem(
                403,
                "account_not_allowed",
                f"webhook source {source.name!r} may not trade account {account!r}",
            )
        return replace(signal, account=account)

    async def _refuse_stale(self, source: WebhookSource, signal: Signal, detail: str) -> None:
        signal_id = await self.service.refuse_signal(signal, "stale_signal", detail)
        self.telemetry.signal(_label(source), "rejected")
        raise Problem(422, "stale_signal", detail, signal_id=signal_id)

    async def _refuse_if_out_of_order(self, source: WebhookSource, signal: Signal) -> None:
        newest = await self.service.latest_target_alert(source.name, signal.symbol)
        if newest is None or signal.created_at >= newest:
            return
        detail = (
            f"a newer target-position alert ({newest.isoformat()}) for {signal.symbol} from "
            f"source {source.name!r} was already applied; this one "
            f"({signal.created_at.isoformat()}) would undo it"
        )
        signal_id = await self.service.refuse_signal(signal, "out_of_order", detail)
        self.telemetry.signal(_label(source), "rejected")
        raise Problem(409, "out_of_order", detail, signal_id=signal_id)

    def _answer(
        self, source: WebhookSource, signal: Signal, accepted: Any, started: float
    ) -> JSONResponse:
        self.telemetry.acknowledged(time.perf_counter() - started)
        label = _label(source)
        answer: ExecutionReport | None = accepted.answer
        if answer is not None:
            self.telemetry.signal(label, answer.status)
            return JSONResponse(answer.to_dict(), status_code=200)
        running: asyncio.Future[ExecutionReport] | None = accepted.running
        if running is not None:
            running.add_done_callback(lambda t: self._ended(label, t))
        return JSONResponse(
            {
                "status": "accepted",
                "signal_id": accepted.signal_id,
                "idempotency_key": signal.idempotency_key,
                "account": signal.account,
                "symbol": signal.symbol,
                "detail": "recorded; executing now. GET /signals/{signal_id} for the outcome",
            },
            status_code=202,
        )

    def _ended(self, label: str, task: asyncio.Future[ExecutionReport]) -> None:
        if task.cancelled():
            return
        failed = task.exception()
        self.telemetry.signal(label, "failed" if failed else task.result().status)

    async def _refused(self, account: str | None, reason: str, **data: Any) -> None:
        try:
            await self.service.record_event("webhook_refused", account, reason=reason, **data)
        except Exception:  # the refusal stands; the record is best-effort
            log.exception("could not record a refused webhook")


def _staleness(signal: Signal, data: dict[str, Any] | None, settings: ApiSettings) -> str | None:
    """Why the alert is too old to act on (None: it is not)."""
    if data is None or data.get("time") is None:
        return None  # no alert time: it is as old as its arrival
    exit_ = signal.is_close or signal.reduce_only
    window = settings.exit_max_age_s if exit_ else settings.entry_max_age_s
    age = (datetime.now(UTC) - signal.created_at).total_seconds()
    if age <= window:
        return None
    return (
        f"the alert is {age:.0f} s old (its time {signal.created_at.isoformat()}); "
        f"{'exits' if exit_ else 'entries'} older than {window:.0f} s are refused"
    )


def _label(source: WebhookSource) -> str:
    return f"tradingview:{source.name}"


def _parse(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(JSON object, text): TradingView sends text/plain when the message is not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, None
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=str)
    except ValueError:
        return None, text
    return (data, text) if isinstance(data, dict) else (None, text)


def _redacted(data: dict[str, Any] | None, text: str | None, settings: ApiSettings) -> Any:
    """What to record of a refused body: no secret keys, no secret values, bounded."""
    if data is not None:
        return json.loads(json.dumps(dict(scrub(data)), default=str))
    shown = (text or "")[:500]
    for secret in settings.secret_values():
        shown = shown.replace(secret, "***")
    return shown


def _percent_legs(signal: Signal, data: dict[str, Any]) -> Signal:
    """``stop_loss_pct`` / ``take_profit_pct`` (fractions of ``price``) as prices."""
    legs = {}
    for name, pct_name, below in (
        ("stop_loss", "stop_loss_pct", True),
        ("take_profit", "take_profit_pct", False),
    ):
        pct = parse_number(data.get(pct_name), pct_name)
        if pct is None:
            continue
        if data.get(name) is not None:
            raise InvalidSignal(f"give {name} or {pct_name}, not both")
        if not 0 < pct < 1:
            raise InvalidSignal(f"{pct_name} is a fraction (0.02 = 2 %), got {pct}")
        direction = signal.direction
        if direction is None or signal.price is None:
            raise InvalidSignal(
                f"{pct_name} needs the alert's price ({{{{close}}}}) and a direction"
            )
        long = direction.value == "buy"
        factor = 1 - pct if below == long else 1 + pct
        legs[name] = signal.price * factor
    if not legs:
        return signal
    return replace(
        signal,
        stop_loss=legs.get("stop_loss", signal.stop_loss),
        take_profit=legs.get("take_profit", signal.take_profit),
    )
