"""One error shape for every error: RFC 9457 problem details (``application/problem+json``).

::

    {"type": "urn:tradeexec:problem:invalid_signal", "title": "Invalid signal",
     "status": 422, "detail": "field 'ticker' still contains ...", "code": "invalid_signal"}

``code`` is the same stable reason code the CLI prints and ``errors.py`` defines (plus the
service's own: ``unauthorized``, ``forbidden``, ``ip_not_allowed``, ``out_of_order``,
``stale_signal``, ``body_too_large``, ``invalid_request``, ``not_found``, ``store_unavailable``
(503: the database failed; nothing was recorded or done)...). Details never
carry a secret or a request's input values; a bug is answered 500 ``internal_error`` with no
traceback (the log has it).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tradeexec import errors
from tradeexec.store.leases import StaleLease

__all__ = [
    "PROBLEM_TYPE",
    "Problem",
    "documented",
    "install_handlers",
    "problem_response",
    "status_for",
]

log = logging.getLogger("tradeexec.api")

PROBLEM_TYPE = "application/problem+json"

# TradeExecError codes -> HTTP status (the most specific class wins; see status_for)
_STATUS: dict[type[errors.TradeExecError], int] = {
    errors.InvalidSignal: 422,
    errors.RiskRejected: 422,
    errors.ConfigError: 404,  # an unknown account is the common case at the API
    errors.UnknownSymbol: 422,
    errors.OrderNotFound: 404,
    errors.InvalidOrder: 422,
    errors.InsufficientFunds: 422,
    errors.NotSupported: 422,
    errors.AuthenticationError: 502,  # the venue refused our credentials
    errors.OrderOutcomeUnknown: 504,
    errors.RequestTimeout: 504,
    errors.NetworkError: 503,
    errors.ExchangeError: 502,
}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
}


def documented(responses: dict[int | str, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route: errors (>= 400) as problem documents."""
    out: dict[int | str, dict[str, Any]] = {}
    for status, text in responses.items():
        entry: dict[str, Any] = {"description": text}
        if int(status) >= 400:
            entry["content"] = {PROBLEM_TYPE: {"schema": _PROBLEM_SCHEMA}}
        out[status] = entry
    return out


class Problem(Exception):
    """Raise in a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers = headers
        self.extra = extra


def status_for(exc: errors.TradeExecError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:tradeexec:problem:{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def install_handlers(app: FastAPI) -> None:
    """The one place requests' errors become problem documents."""

    async def problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc.status, exc.code, exc.detail, headers=exc.headers, **exc.extra)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        found = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]  # never the input values: they may be secrets
        where = "; ".join(f"{'.'.join(f['loc'])}: {f['msg']}" for f in found[:5])
        return problem_response(422, "invalid_request", where or "invalid request", errors=found)

    async def http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(exc.status_code, code, detail, headers=headers)

    async def ours(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.TradeExecError)
        status = status_for(exc)
        code = getattr(exc, "reason_code", None) or exc.code
        return problem_response(status, code, str(exc))

    async def lease(_: Request, exc: Exception) -> JSONResponse:
        # another replica holds the account's lease (several replicas, `execution/lease.py`)
        return problem_response(409, "lease_lost", str(exc))

    async def store_down(_: Request, exc: Exception) -> JSONResponse:
        # the database failed (down, full, a conflict that outlived its retries): the request
        # was not recorded, so nothing was done; the statement and its values stay in the log
        log.error("the store failed: %s", type(exc).__name__, exc_info=exc)
        return problem_response(
            503,
            "store_unavailable",
            "the store could not record this request, so nothing was done; send it again with "
            "the same idempotency key",
            headers={"Retry-After": "1"},
        )

    app.add_exception_handler(Problem, problem)
    app.add_exception_handler(StaleLease, lease)
    app.add_exception_handler(SQLAlchemyError, store_down)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(errors.TradeExecError, ours)
