"""Each adapter against the named examples in its contract file (contracts/regions/*.md).

The region's side is `adapters.testing.MockHttpClient` answering with the documented
examples, read from the markdown, so the documents and the adapters cannot drift apart.
(aioresponses 0.7.9 cannot build responses for aiohttp 3.14; the shared client's own
error translation is tested against real loopback servers in
tests/integration/test_outbound_client.py.)
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from support.region_helpers import envelope as shared_envelope
from yarl import URL

from adapters.base import AdapterConfig, HttpResponse
from adapters.dongguan import DongguanAdapter
from adapters.dongguan import protocol as dg
from adapters.peer import PeerAdapter
from adapters.shenzhen import ShenzhenAdapter
from adapters.shenzhen import protocol as sz
from adapters.shenzhen.settings import ShenzhenSettings
from adapters.testing import MockHttpClient
from adapters.zhangjiagang import ZhangjiagangAdapter
from adapters.zhangjiagang import protocol as zjg
from adapters.zhangjiagang.sandbox import DEMO_REGION_KEY_PEM
from adapters.zhangjiagang.settings import ZhangjiagangSettings
from gateway.envelope import Envelope, Status
from gateway.errors import RegionRejected, RegionUnavailable
from gateway.security.sm2 import SM2PrivateKey, SM2PublicKey

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "regions"
BASE = "http://region.test"
_BLOCK = re.compile(r"^```\w+ ([\w-]+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def example(region: str, name: str) -> str:
    text = (CONTRACTS / f"{region}.md").read_text(encoding="utf-8")
    blocks: dict[str, str] = dict(_BLOCK.findall(text))
    return blocks[name]


def envelope(kind: str = "submission", **extra: Any) -> Envelope:
    """The shared test envelope with the fixed ids the contract documents quote
    (``dlv-7f3a`` is the idempotency key in every documented request)."""
    return shared_envelope(kind, envelope_id="e1", idempotency_key="dlv-7f3a", **extra)


def config(region: str) -> AdapterConfig:
    return AdapterConfig(region, {"url": BASE})


class Region:
    """The region's side: one canned answer for every request."""

    def __init__(self) -> None:
        self.answer = HttpResponse(599, {}, b"")
        self.client = MockHttpClient(lambda request: self.answer)

    def post(
        self, _: object, *, status: int = 200, body: str = "", headers: dict[str, str] | None = None
    ) -> None:
        self.answer = HttpResponse(status, headers or {}, body.encode())


@pytest.fixture
def region() -> Region:
    return Region()


@pytest.fixture
def http(region: Region) -> MockHttpClient:
    return region.client


def sent(region: Region) -> tuple[URL, dict[str, Any]]:
    [request] = region.client.requests
    return URL(request.url), {"data": request.content, "headers": request.headers}


ANY = None


# --- Shenzhen -------------------------------------------------------------------


async def test_shenzhen_submit_is_signed_as_documented(
    http: MockHttpClient, region: Region
) -> None:
    region.post(ANY, body=example("shenzhen", "submit-ok"))
    ack = await ShenzhenAdapter(config("shenzhen"), http).submit(envelope())
    assert (ack.region_case_no, ack.duplicate) == ("SZ20250301000001", False)
    url, kwargs = sent(region)
    assert url.path == "/open/api/case/submit"
    params = dict(parse_qsl(urlsplit(str(url)).query))
    secret = ShenzhenSettings().app_secret.get_secret_value()
    assert sz.verify("tongban-demo", secret, params, kwargs["data"]) is None
    body = json.loads(kwargs["data"])
    assert set(json.loads(example("shenzhen", "submit-request").replace("abab…", "x"))) == set(body)
    assert kwargs["headers"]["X-Request-ID"] == "0af7651916cd43dd8448eb211c80319c"
    assert kwargs["headers"]["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


async def test_shenzhen_duplicate_is_reported(http: MockHttpClient, region: Region) -> None:
    region.post(ANY, body=example("shenzhen", "submit-duplicate"))
    assert (await ShenzhenAdapter(config("shenzhen"), http).submit(envelope())).duplicate


async def test_shenzhen_sign_error_is_permanent(http: MockHttpClient, region: Region) -> None:
    region.post(ANY, body=example("shenzhen", "error-sign"))
    with pytest.raises(RegionRejected) as caught:
        await ShenzhenAdapter(config("shenzhen"), http).submit(envelope())
    assert (caught.value.code, caught.value.message) == ("1001", "签名校验失败")


async def test_shenzhen_rate_limit_is_transient_with_retry_after(
    http: MockHttpClient, region: Region
) -> None:
    region.post(ANY, body=example("shenzhen", "error-busy"))
    with pytest.raises(RegionUnavailable) as caught:
        await ShenzhenAdapter(config("shenzhen"), http).submit(envelope())
    assert caught.value.retry_after == 5


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 502, "body": "<html>bad gateway</html>"},
        {"status": 429, "body": ""},
        {"status": 200, "body": "<html>proxy</html>"},
    ],
)
async def test_shenzhen_transport_failures_are_transient(
    http: MockHttpClient, region: Region, failure: dict[str, Any]
) -> None:
    region.post(ANY, **failure)
    with pytest.raises(RegionUnavailable) as caught:
        await ShenzhenAdapter(config("shenzhen"), http).submit(envelope())
    assert caught.value.region == "shenzhen"


def test_shenzhen_callback_example_maps_to_approved() -> None:
    data = json.loads(example("shenzhen", "callback"))
    assert sz.STATUS_CODES[data["statusCode"]] is Status.APPROVED


# --- Dongguan -------------------------------------------------------------------


async def test_dongguan_submit_sends_the_documented_soap(
    http: MockHttpClient, region: Region
) -> None:
    region.post(ANY, body=example("dongguan", "submit-ok"))
    ack = await DongguanAdapter(config("dongguan"), http).submit(envelope())
    assert ack.region_case_no == "DG44190020250301000001"
    assert ack.received_at is not None
    _, kwargs = sent(region)
    header, op = dg.parse(kwargs["data"])
    assert op.tag == dg.q("submitCase")
    assert dg.verify_token(header, "tongban", "demo-dongguan-password", set()) is None
    documented = {el.tag for el in dg.parse(example("dongguan", "submit-request").encode())[1]}
    assert {el.tag for el in op} == documented
    assert kwargs["headers"]["SOAPAction"] == '"urn:dg:approval:submitCase"'


async def test_dongguan_query_example_gives_stable_events(
    http: MockHttpClient, region: Region
) -> None:
    region.post(ANY, body=example("dongguan", "query-ok"))
    events = await DongguanAdapter(config("dongguan"), http).poll(["DG44190020250301000001"])
    assert [(e.event_id, e.status) for e in events] == [
        ("DG44190020250301000001:1", Status.SUPPLEMENT_REQUIRED),
        ("DG44190020250301000001:2", Status.ACCEPTED),
        ("DG44190020250301000001:3", Status.APPROVED),
    ]
    assert events[0].missing_materials == ("m2",)
    assert str(events[0].supplement_deadline) == "2025-03-06"
    assert events[2].certificate_no == "DGZ-DG44190020250301000001"


async def test_dongguan_client_fault_is_permanent(http: MockHttpClient, region: Region) -> None:
    region.post(ANY, status=500, body=example("dongguan", "fault-client"))
    with pytest.raises(RegionRejected) as caught:
        await DongguanAdapter(config("dongguan"), http).withdraw(
            envelope("withdrawal", region_case_no="DG1")
        )
    assert (caught.value.code, caught.value.message) == ("E204", "办件不存在")


async def test_dongguan_server_fault_is_transient(http: MockHttpClient, region: Region) -> None:
    region.post(ANY, status=500, body=example("dongguan", "fault-server"))
    with pytest.raises(RegionUnavailable, match="E301"):
        await DongguanAdapter(config("dongguan"), http).submit(envelope())


async def test_dongguan_html_error_page_is_transient(http: MockHttpClient, region: Region) -> None:
    region.post(ANY, status=503, body="<html><body>503</body></html>", headers={"Retry-After": "7"})
    with pytest.raises(RegionUnavailable) as caught:
        await DongguanAdapter(config("dongguan"), http).submit(envelope())
    assert caught.value.retry_after == 7


# --- Zhangjiagang ---------------------------------------------------------------


EXAMPLE_GATEWAY_KEY = SM2PrivateKey.from_pem(
    (
        Path(__file__).resolve().parents[1] / "data" / "zhangjiagang_example_gateway_key.pem"
    ).read_bytes()
)
REGION_DEMO_KEY = SM2PrivateKey.from_pem(DEMO_REGION_KEY_PEM)


def zjg_config() -> AdapterConfig:
    return AdapterConfig(
        "zhangjiagang",
        {"url": BASE},
        sm2_key=EXAMPLE_GATEWAY_KEY,
    )


def test_zhangjiagang_documented_keys_are_the_ones_in_use() -> None:
    gateway_jwk = json.loads(example("zhangjiagang", "example-gateway-jwk"))
    assert SM2PublicKey.from_jwk(gateway_jwk) == EXAMPLE_GATEWAY_KEY.public_key()
    assert gateway_jwk["kid"] == EXAMPLE_GATEWAY_KEY.public_key().thumbprint()
    region_jwk = json.loads(example("zhangjiagang", "region-demo-jwk"))
    configured = ZhangjiagangSettings().region_public_key()
    assert SM2PublicKey.from_jwk(region_jwk) == REGION_DEMO_KEY.public_key() == configured


def test_zhangjiagang_request_and_answer_examples_open_as_documented() -> None:
    request = json.loads(example("zhangjiagang", "submit-request"))
    opened = zjg.open_sealed(
        "tongban-demo",
        request,
        sender=EXAMPLE_GATEWAY_KEY.public_key(),
        recipient=REGION_DEMO_KEY,
        check_time=False,
    )
    assert opened.data == json.loads(example("zhangjiagang", "submit-request-data"))
    answer = json.loads(example("zhangjiagang", "submit-ok"))
    data = zjg.open_sealed(
        "tongban-demo",
        answer,
        sender=REGION_DEMO_KEY.public_key(),
        session_key=opened.session_key,
        check_time=False,
    ).data
    assert data == {"caseNo": "ZJG32058220250301000001", "duplicate": False}


def answering_region(request: Any) -> HttpResponse:
    """The region's side as documented: open the request, answer under its session key."""
    opened = zjg.open_sealed(
        "tongban-demo",
        json.loads(request.content),
        sender=EXAMPLE_GATEWAY_KEY.public_key(),
        recipient=REGION_DEMO_KEY,
    )
    assert opened.key_id == EXAMPLE_GATEWAY_KEY.public_key().thumbprint()
    answer, _ = zjg.seal(
        "tongban-demo",
        REGION_DEMO_KEY,
        {"caseNo": f"ZJG-{opened.data['bizSerialNo']}", "duplicate": False},
        session_key=opened.session_key,
    )
    return HttpResponse(200, {}, json.dumps({"retCode": "000000", **answer}).encode())


async def test_zhangjiagang_adapter_seals_and_opens_as_documented() -> None:
    http = MockHttpClient(answering_region)
    ack = await ZhangjiagangAdapter(zjg_config(), http).submit(envelope())
    assert ack.region_case_no == "ZJG-dlv-7f3a"
    [request] = http.requests
    wrapper = json.loads(request.content)
    assert (wrapper["encType"], wrapper["signType"]) == ("SM4/CBC/PKCS7", "SM2/SM3")


async def test_zhangjiagang_answer_to_another_request_is_not_trusted(
    http: MockHttpClient, region: Region
) -> None:
    """The documented answer is genuine, but sealed under another request's session key."""
    region.post(ANY, body=example("zhangjiagang", "submit-ok"))
    with pytest.raises(RegionUnavailable, match="verification"):
        await ZhangjiagangAdapter(zjg_config(), http).submit(envelope())


async def test_zhangjiagang_tampered_answer_is_not_trusted(
    http: MockHttpClient, region: Region
) -> None:
    answer = json.loads(example("zhangjiagang", "submit-ok"))
    answer["sign"] = base64.b64encode(b"\x30\x00").decode()
    region.post(ANY, body=json.dumps(answer))
    with pytest.raises(RegionUnavailable, match="verification"):
        await ZhangjiagangAdapter(zjg_config(), http).submit(envelope())


@pytest.mark.parametrize(
    ("name", "error", "code"),
    [("error-sign", RegionRejected, "100001"), ("error-busy", RegionUnavailable, None)],
)
async def test_zhangjiagang_error_examples(
    http: MockHttpClient, region: Region, name: str, error: type[Exception], code: str | None
) -> None:
    region.post(ANY, body=example("zhangjiagang", name))
    with pytest.raises(error) as caught:
        await ZhangjiagangAdapter(zjg_config(), http).submit(envelope())
    if code is not None:
        assert caught.value.code == code  # type: ignore[attr-defined]


def test_zhangjiagang_callback_example_decrypts_to_the_documented_data() -> None:
    wrapper = json.loads(example("zhangjiagang", "callback"))
    data = zjg.open_sealed(
        "tongban-demo",
        wrapper,
        sender=REGION_DEMO_KEY.public_key(),
        recipient=EXAMPLE_GATEWAY_KEY,
        check_time=False,
    ).data
    assert data == json.loads(example("zhangjiagang", "callback-data"))


def test_zhangjiagang_stale_wrapper_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper, _ = zjg.seal(
        "tongban-demo", REGION_DEMO_KEY, {"x": 1}, recipient=EXAMPLE_GATEWAY_KEY.public_key()
    )
    later = time.time() + zjg.MAX_SKEW_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(zjg.ProtocolError) as caught:
        zjg.open_sealed(
            "tongban-demo",
            wrapper,
            sender=REGION_DEMO_KEY.public_key(),
            recipient=EXAMPLE_GATEWAY_KEY,
        )
    assert caught.value.code == "100003"


# --- Peer -----------------------------------------------------------------------


async def test_peer_submit_posts_the_envelope_with_idempotency_key(
    http: MockHttpClient, region: Region
) -> None:
    region.post(ANY, status=202, body=example("peer", "submit-accepted"))
    env = envelope()
    ack = await PeerAdapter(config("peer"), http).submit(env)
    assert (ack.region_case_no, ack.duplicate) == ("app_peer_20250301000001", False)
    url, kwargs = sent(region)
    assert url.path == "/v1/applications"
    assert kwargs["headers"]["Idempotency-Key"] == "dlv-7f3a"
    assert Envelope.model_validate_json(kwargs["data"]) == env


async def test_peer_replay_is_a_duplicate(http: MockHttpClient, region: Region) -> None:
    region.post(
        ANY,
        status=200,
        body=example("peer", "submit-accepted"),
        headers={"Idempotent-Replayed": "true"},
    )
    assert (await PeerAdapter(config("peer"), http).submit(envelope())).duplicate


async def test_peer_problem_404_is_permanent(http: MockHttpClient, region: Region) -> None:
    region.post(ANY, status=404, body=example("peer", "problem-not-found"))
    with pytest.raises(RegionRejected) as caught:
        await PeerAdapter(config("peer"), http).withdraw(
            envelope("withdrawal", region_case_no="app_peer_x")
        )
    assert caught.value.code == "not-found"


async def test_peer_problem_503_is_transient(http: MockHttpClient, region: Region) -> None:
    region.post(
        ANY, status=503, body=example("peer", "problem-unavailable"), headers={"Retry-After": "2"}
    )
    with pytest.raises(RegionUnavailable) as caught:
        await PeerAdapter(config("peer"), http).submit(envelope())
    assert caught.value.retry_after == 2


def test_peer_webhook_example_uses_our_statuses() -> None:
    assert Status(json.loads(example("peer", "webhook"))["status"]) is Status.APPROVED
