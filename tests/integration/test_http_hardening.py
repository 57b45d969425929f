"""Issue 12, from outside: hostile input gets a 4xx problem that changes nothing, never a
500; clients that stall or vanish cost a line of log, not a traceback or a handler
held forever. Served by `GatewayRunner` (as in production), over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from structlog.typing import EventDict
from support.examples import example, upload_examples
from support.fixture_types import CatalogueSettings
from support.gateway_server import GatewayTestServer, raw_exchange, status_and_body
from support.partner_signing import PARTNER, SignedClient

from gateway.app import STORE, create_app
from gateway.config import Settings, load_settings

PROBLEM = "application/problem+json"
DEEP = b"[" * 20_000 + b"]" * 20_000
CJK = re.compile(r"[\u4e00-\u9fff]")


async def serve(settings: Settings) -> AsyncIterator[SignedClient]:
    async with TestClient(GatewayTestServer(create_app(settings), host="127.0.0.1")) as client:
        signed = SignedClient(client, PARTNER)
        await upload_examples(signed)
        yield signed


@pytest.fixture
async def gateway(catalogue_settings: CatalogueSettings) -> AsyncIterator[SignedClient]:
    """The gateway with short timeouts, so the slow-client tests run quickly."""
    settings = catalogue_settings(
        server={"idle_timeout": 0.5, "body_timeout": 0.5, "max_connections_per_ip": 4}
    )
    async for client in serve(settings):
        yield client


def port_of(client: SignedClient) -> int:
    port = client.client.server.port
    assert port is not None
    return port


async def submitted(client: SignedClient) -> str:
    response = await client.post("/v1/applications", json=example("proxy_person"))
    assert response.status == 202, await response.text()
    return str((await response.json())["id"])


async def assert_problem(
    response: Any, status: int, type_suffix: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = await response.json(content_type=None)
    assert response.status == status, body
    assert response.content_type == PROBLEM
    assert CJK.search(body.get("detail", "")), f"detail is not Chinese: {body}"
    if type_suffix is not None:
        assert body["type"].endswith("/" + type_suffix), body
    return body


def errors_in(logs: list[EventDict]) -> list[EventDict]:
    return [e for e in logs if e.get("log_level") in ("error", "critical", "exception")]


# 1. Unknown callback regions


@pytest.mark.parametrize("region", ["0", "SHENZHEN", "..", "shenzhen%00", "nowhere"])
async def test_a_callback_for_an_unknown_region_is_a_404_problem(
    gateway: SignedClient, region: str, logs: list[EventDict]
) -> None:
    response = await gateway.client.post(f"/v1/regions/{region}/callbacks", data=b"{}")
    assert response.status in (404,), await response.text()
    if response.content_type == PROBLEM:  # `..` is normalised away by the client's URL
        await assert_problem(response, 404)
    assert not errors_in(logs)


# 2. Whole numbers in query parameters


@pytest.mark.parametrize("value", ["²", "①", "１", "9" * 4301, "9" * 19, "-1", "+1", " 1", "1_0"])
async def test_catalogue_page_numbers_are_strict_ascii_and_bounded(
    gateway: SignedClient, value: str
) -> None:
    response = await gateway.client.get("/v1/catalog/items", params={"page": value})
    body = await assert_problem(response, 422, "invalid-query")
    assert [e["field"] for e in body["errors"]] == ["page"]
    assert "9" * 19 not in json.dumps(body)  # never echoed back


async def test_other_number_parameters_are_strict_too(gateway: SignedClient) -> None:
    for path in (
        "/v1/applications?limit=²",
        "/v1/audit/proofs/²",
        "/v1/audit/consistency?first=1&second=" + "9" * 4301,
    ):
        response = await gateway.get(path)
        await assert_problem(response, 422)


# 3. Deep JSON everywhere it is parsed


async def test_deep_json_is_a_400_on_every_partner_json_route(
    gateway: SignedClient, logs: list[EventDict]
) -> None:
    case = await submitted(gateway)
    for path in (
        "/v1/applications",
        "/v1/applications/search",
        f"/v1/applications/{case}/supplements",
        f"/v1/applications/{case}/withdrawal",
        f"/v1/applications/{case}/rating",
    ):
        response = await gateway.post(path, data=DEEP, headers={"Content-Type": "application/json"})
        body = await assert_problem(response, 400, "malformed-json")
        assert body["check"] == "too_deep", path
    assert not errors_in(logs)


@pytest.mark.parametrize("region", ["shenzhen", "zhangjiagang", "peer"])
async def test_deep_json_pushed_by_a_region_is_refused_in_its_protocol(
    gateway: SignedClient, region: str, logs: list[EventDict]
) -> None:
    response = await gateway.client.post(
        f"/v1/regions/{region}/callbacks", data=DEEP, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status < 500, await response.text()
    assert not errors_in(logs)


@pytest.mark.parametrize(
    ("raw", "check"),
    [
        (b'{"a": 1, "a": 2}', "duplicate_member"),
        (b'{"level": NaN}', "non_finite_number"),
        (b'{"level": 1e999}', "number_out_of_range"),
        (b'{"level": 99999999999999999999}', "number_out_of_range"),
        (b'{"level": ' + b"9" * 5000 + b"}", "malformed"),
        (b"\xff\xfe{}", "not_utf8"),
    ],
)
async def test_json_rules_name_the_broken_rule(
    gateway: SignedClient, raw: bytes, check: str
) -> None:
    response = await gateway.post(
        "/v1/applications", data=raw, headers={"Content-Type": "application/json"}
    )
    body = await assert_problem(response, 400, "malformed-json")
    assert body["check"] == check


# 4. Broken multipart


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=x", b"--x\r\nzzz"),
        ("multipart/form-data", b"--x\r\nzzz"),
        ("multipart/form-data; boundary=x", b"garbage"),
        ("multipart/form-data; boundary=x", b"--x--\r\n"),
    ],
)
async def test_broken_multipart_is_a_422_that_stores_nothing(
    gateway: SignedClient, content_type: str, body: bytes, logs: list[EventDict]
) -> None:
    async with gateway.app[STORE].transaction() as conn:
        before = await conn.fetch_one("SELECT COUNT(*) AS n FROM attachments")
    response = await gateway.post(
        "/v1/attachments", data=body, headers={"Content-Type": content_type}
    )
    problem = await assert_problem(response, 422)
    assert problem["errors"]
    async with gateway.app[STORE].transaction() as conn:
        after = await conn.fetch_one("SELECT COUNT(*) AS n FROM attachments")
    assert before == after
    assert not errors_in(logs)


# 5. Clients that go away


async def wait_for_event(logs: list[EventDict], event: str, count: int = 1) -> list[EventDict]:
    for _ in range(100):
        found = [e for e in logs if e["event"] == event]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {event} in {[e['event'] for e in logs]}")


async def test_a_dropped_upload_is_one_info_line(
    gateway: SignedClient, logs: list[EventDict], caplog: pytest.LogCaptureFixture
) -> None:
    head = (
        b"POST /v1/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/pdf\r\nContent-Length: 100000\r\n\r\n"
    )
    for _ in range(5):
        await raw_exchange(port_of(gateway), head + b"%PDF" * 100, close_after_send=True)
    gone = await wait_for_event(logs, "http.client_gone", 5)
    assert all(e["log_level"] == "info" for e in gone)
    assert not errors_in(logs)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# 6. Timeouts the gateway owns


async def test_a_body_not_sent_in_time_is_a_408_and_the_connection_closes(
    gateway: SignedClient,
) -> None:
    head = (
        b"POST /v1/applications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    raw = await raw_exchange(port_of(gateway), head + b'{"item_code": ', wait=10)
    status, body, headers = status_and_body(raw)
    assert status == 408
    assert "application/problem+json" in headers
    assert json.loads(body)["type"].endswith("/body-timeout")


async def test_a_dripping_header_is_closed_after_the_idle_timeout(gateway: SignedClient) -> None:
    raw = await raw_exchange(
        port_of(gateway), b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a", wait=10
    )
    assert raw == b""  # closed by the gateway, no answer to half a request


async def test_an_idle_connection_is_closed_after_the_idle_timeout(gateway: SignedClient) -> None:
    assert await raw_exchange(port_of(gateway), b"", wait=10) == b""


async def test_connections_over_the_per_address_cap_get_a_503(gateway: SignedClient) -> None:
    port = port_of(gateway)
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
    try:
        raw = await raw_exchange(port, b"", wait=5)
        status, body, _ = status_and_body(raw)
        assert status == 503
        assert json.loads(body)["type"].endswith("/too-many-connections")
    finally:
        for _, writer in held:
            writer.close()


# 7. aiohttp's own parser errors


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"GET / HTTP/9.9.9\r\n\r\n",
    ],
)
async def test_unparsable_requests_are_problem_json_and_one_log_line(
    gateway: SignedClient,
    request_bytes: bytes,
    logs: list[EventDict],
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = await raw_exchange(port_of(gateway), request_bytes)
    status, body, headers = status_and_body(raw)
    assert 400 <= status < 500
    assert "application/problem+json" in headers
    assert json.loads(body)["type"].endswith("/unparsable-request")
    assert [e["event"] for e in logs if e["event"] == "http.unparsable_request"]
    assert not errors_in(logs)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# 11. Idempotency-Key on every state-changing partner route


async def test_state_changing_routes_require_an_idempotency_key(gateway: SignedClient) -> None:
    case = await submitted(gateway)
    for path, body in (
        ("/v1/applications", example("proxy_person")),
        ("/v1/attachments", None),
        (f"/v1/applications/{case}/supplements", {"materials": []}),
        (f"/v1/applications/{case}/withdrawal", {"reason": "不办了"}),
        (f"/v1/applications/{case}/rating", {"level": 5, "setting": "online"}),
    ):
        response = await gateway.request(
            "POST",
            path,
            json=body,
            data=b"%PDF-1.4" if body is None else None,
            headers={"Content-Type": "application/pdf"} if body is None else None,
            idempotency_key=False,
        )
        problem = await assert_problem(response, 428, "idempotency-key-required")
        assert problem["header"] == "Idempotency-Key"
    async with gateway.app[STORE].transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT kind FROM deliveries WHERE application_id = :id", {"id": case}
        )
    assert [row["kind"] for row in rows] == ["submission"]  # nothing else was written


async def test_a_follow_up_retried_with_its_key_gets_the_first_answer(
    gateway: SignedClient,
) -> None:
    case = await submitted(gateway)
    headers = {"Idempotency-Key": "withdraw-1"}
    path = f"/v1/applications/{case}/withdrawal"
    first = await gateway.post(path, json={"reason": "不办了"}, headers=headers)
    again = await gateway.post(path, json={"reason": "不办了"}, headers=headers)
    assert (first.status, again.status) == (202, 202)
    assert await first.json() == await again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await gateway.post(path, json={"reason": "另一个理由"}, headers=headers)
    await assert_problem(other, 409, "idempotency-conflict")


# 12. Nonces by default


def test_nonces_are_required_by_default(tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path)})
    assert settings.security.require_nonce is True


async def test_a_signature_without_a_nonce_is_refused_by_default(gateway: SignedClient) -> None:
    from gateway.security import RequestSigner

    signer = RequestSigner(PARTNER.key, PARTNER.keyid)
    url = str(gateway.client.make_url("/v1/applications"))
    headers = signer("GET", url, {}, b"")
    headers["Signature-Input"] = re.sub(r';nonce="[^"]*"', "", headers["Signature-Input"])
    response = await gateway.client.get("/v1/applications", headers=headers)
    problem = await assert_problem(response, 401, "signature-refused")
    assert problem["check"] == "nonce_missing"


# 14. No resident ID in a URL


async def test_the_id_number_query_form_is_refused(gateway: SignedClient) -> None:
    response = await gateway.get("/v1/applications?id_number=360426199101010071")
    problem = await assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "id_number"
    assert "/v1/applications/search" in problem["errors"][0]["message"]


async def test_search_by_id_number_in_the_body(gateway: SignedClient) -> None:
    case = await submitted(gateway)
    id_number = example("proxy_person")["applicant"]["id_number"]
    response = await gateway.post("/v1/applications/search", json={"id_number": id_number})
    assert response.status == 200
    assert [item["id"] for item in (await response.json())["items"]] == [case]
    bad = await gateway.post("/v1/applications/search", json={"id_numbr": "x", "limit": 0})
    problem = await assert_problem(bad, 422)
    assert {e["field"] for e in problem["errors"]} == {"id_numbr"}


# 20. UTF-8 JSON


async def test_json_is_served_as_utf8_with_chinese_as_is(gateway: SignedClient) -> None:
    response = await gateway.client.get("/v1/catalog/items/TEST-SZ-HUKOU")
    raw = await response.read()
    assert response.charset == "utf-8"
    assert b"\\u" not in raw
    assert re.search(r"[\u4e00-\u9fff]", raw.decode("utf-8"))


def test_no_route_answers_with_aiohttps_ascii_json() -> None:
    root = Path(__file__).resolve().parents[2]
    sources = [*(root / "gateway").rglob("*.py"), *(root / "adapters").glob("*/adapter.py")]
    offenders = [
        str(path.relative_to(root))
        for path in sources
        if "web.json_response(" in path.read_text("utf-8")
    ]
    assert not offenders, "use gateway.http.responses.json_response in " + ", ".join(offenders)


# 21. One rule for refusal details


async def test_refusals_have_a_chinese_detail_and_a_machine_type(gateway: SignedClient) -> None:
    answers = [
        await gateway.client.get("/v1/applications"),  # unsigned
        await gateway.client.get("/v1/catalog/items?page_size=0&mode=x"),
        await gateway.client.get("/nowhere"),
        await gateway.client.delete("/v1/catalog/items"),
        await gateway.get("/v1/applications/unknown"),
        await gateway.client.get("/v1/ops/deliveries"),
        await gateway.client.get("/v1/audit/checkpoints/latest"),
    ]
    for response in answers:
        body = await response.json(content_type=None)
        assert response.content_type == PROBLEM, body
        assert CJK.search(body["detail"]), body
        assert body["type"].startswith("https://tongban.example/problems/"), body
