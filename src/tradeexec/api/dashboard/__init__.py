"""The dashboard (issue 15): server-rendered pages at ``/ui/`` (``/`` leads there).

Signals (a live inbox), a signal's story, positions with their protection, orders and
fills, PnL per day, accounts with the tiered kill switch, health. FastAPI routes build view
models in Python (``records.py``: what the store recorded; ``venues.py``: what the venues
report) and Jinja2 templates print them; htmx swaps server-rendered fragments, and the
inbox refreshes itself on the ``signal`` events of the service's change feed. The
JavaScript is vendored (``static/vendor/``: htmx, its SSE extension, uPlot) with licences.

Sign-in exchanges an API token for a session cookie (``session.py``); the scopes are the
REST API's: read to look, admin for the kill switch (``killswitch.py``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse

from tradeexec.api.dashboard import killswitch, pages
from tradeexec.api.dashboard.web import HERE, SignInNeeded, redirect_to_sign_in

__all__ = ["mount_dashboard"]


def mount_dashboard(app: FastAPI) -> None:
    """Add the pages, their static files and the sign-in redirect to ``app``."""
    app.include_router(pages.router)
    app.include_router(killswitch.router)
    app.add_exception_handler(SignInNeeded, redirect_to_sign_in)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/ui/signals", status_code=303)
