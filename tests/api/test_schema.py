"""Property tests of the published OpenAPI spec against the running service (schemathesis),
and the token rules derived from the same spec: no route answers without a token (but
/health), no read token may trade."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)

from api.harness import ADMIN, READER, Live

OPEN = {"/health"}
WEBHOOKS = ("/webhooks/",)  # authenticated by their shared secret, not a token
DUMMY = {"signal_id": "1", "order_id": "1", "symbol": "BTC", "secret": "x"}


@pytest.fixture
def spec(live: Live) -> dict[str, Any]:
    spec = httpx.get(f"{live.base_url}/openapi.json", timeout=10).json()
    assert isinstance(spec, dict)
    return spec


def test_the_api_keeps_its_spec(live: Live, spec: dict[str, Any]) -> None:
    """Generated requests for every operation (the SSE stream excepted: it never ends):
    no 5xx for anything, every status answered is one the spec documents."""
    api = schemathesis.openapi.from_dict(spec).exclude(path="/events")
    tested = []
    for found in api.get_all_operations():
        operation = found.ok()
        tested.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=live.base_url,
                headers={"Authorization": f"Bearer {ADMIN}"},
                checks=[not_a_server_error, status_code_conformance, content_type_conformance],
            )

        check()
    assert len(tested) >= 15, tested


def _operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for path, methods in spec["paths"].items():
        for method in methods:
            url = path
            for name, value in DUMMY.items():
                url = url.replace("{" + name + "}", value)
            found.append((method.upper(), url))
    return found


def test_every_route_but_health_needs_a_token_and_reading_is_not_trading(
    live: Live, spec: dict[str, Any]
) -> None:
    operations = [
        op for op in _operations(spec) if op[1] not in OPEN and not op[1].startswith(WEBHOOKS)
    ]
    assert len(operations) >= 14
    with live.client(None) as anonymous, live.client(READER) as reader:
        for method, url in operations:
            answer = anonymous.request(method, url, params={"symbol": "BTC"})
            assert answer.status_code == 401, (method, url, answer.text)
            if method != "GET":
                answer = reader.request(method, url, params={"symbol": "BTC"}, json={})
                assert answer.status_code == 403, (method, url, answer.text)
    assert live.position() == 0
