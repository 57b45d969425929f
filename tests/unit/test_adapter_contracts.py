"""Each adapter against the named examples in its contract file (contracts/regions/*.md).

The region's side is `adapters.testing.MockHttpClient` answering with the documented
examples, read from the markdown, so the documents and the adapters cannot drift apart.
(aioresponses 0.7.9 cannot build responses for aiohttp 3.14; the shared client's own
error translation is tested against real loopback servers in
tests/integration/test_outbound_client.py.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import UTC, datetime
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
from gateway.applications.models import ApplicationRequest
from gateway.envelope import Envelope, Status
from gateway.errors import RegionRejected, RegionUnavailable
from gateway.relay.webhooks import notice_payload
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

PEER_FILE = b"%PDF-1.4 contract test"
PEER_DIGEST = hashlib.sha256(PEER_FILE).hexdigest()


async def _peer_files(digest: str) -> tuple[bytes, str] | None:
    return (PEER_FILE, "application/pdf") if digest == PEER_DIGEST else None


def peer_envelope() -> Envelope:
    """A submission whose material names one stored file."""
    env = envelope()
    body: Any = env.body
    materials = tuple(m.model_copy(update={"attachments": (PEER_DIGEST,)}) for m in body.materials)
    applicant = body.applicant.model_copy(update={"phone": "13800000000"})
    update = {"materials": materials, "applicant": applicant}
    return env.model_copy(update={"body": body.model_copy(update=update)})


def peer_adapter(http: MockHttpClient) -> PeerAdapter:
    return PeerAdapter(AdapterConfig("peer", {"url": BASE}, attachments=_peer_files), http)


async def test_peer_submit_posts_an_application_request_under_the_envelope_key(
    http: MockHttpClient, region: Region
) -> None:
    region.post(ANY, status=202, body=example("peer", "submit-accepted"))
    ack = await peer_adapter(http).submit(peer_envelope())
    answer = json.loads(example("peer", "submit-accepted"))
    assert (ack.region_case_no, ack.duplicate) == (answer["id"], False)
    assert ack.receipt == answer["receipt"]
    url, kwargs = sent(region)
    assert url.path == "/v1/applications"
    assert kwargs["headers"]["Idempotency-Key"] == "dlv-7f3a"
    request = ApplicationRequest.model_validate_json(kwargs["data"])  # the partner API's shape
    assert request.item_code == "440300-GA-001"
    assert request.receiving_region == "dongguan"
    assert request.materials[0].attachments == (PEER_DIGEST,)


async def test_peer_uploads_only_the_files_it_reports_missing_then_submits_again() -> None:
    answers = [
        HttpResponse(422, {}, example("peer", "problem-missing-file").encode()),
        HttpResponse(201, {}, json.dumps({"digest": PEER_DIGEST}).encode()),
        HttpResponse(202, {}, example("peer", "submit-accepted").encode()),
    ]
    http = MockHttpClient(lambda request: answers.pop(0))
    await peer_adapter(http).submit(peer_envelope())
    paths = [URL(request.url).path for request in http.requests]
    assert paths == ["/v1/applications", "/v1/attachments", "/v1/applications"]
    upload = http.requests[1]
    assert upload.content == PEER_FILE
    assert upload.headers["Content-Type"] == "application/pdf"
    assert http.requests[0].content == http.requests[2].content
    assert (
        http.requests[0].headers["Idempotency-Key"] == http.requests[2].headers["Idempotency-Key"]
    )


async def test_peer_replay_is_a_duplicate(http: MockHttpClient, region: Region) -> None:
    region.post(
        ANY,
        status=200,
        body=example("peer", "submit-accepted"),
        headers={"Idempotent-Replayed": "true"},
    )
    assert (await peer_adapter(http).submit(peer_envelope())).duplicate


async def test_peer_problem_404_is_permanent(http: MockHttpClient, region: Region) -> None:
    region.post(ANY, status=404, body=example("peer", "problem-not-found"))
    with pytest.raises(RegionRejected) as caught:
        await peer_adapter(http).withdraw(envelope("withdrawal", region_case_no="app_peer_x"))
    assert caught.value.code == "application-not-found"


async def test_peer_problem_503_is_transient(http: MockHttpClient, region: Region) -> None:
    region.post(
        ANY, status=503, body=example("peer", "problem-unavailable"), headers={"Retry-After": "2"}
    )
    with pytest.raises(RegionUnavailable) as caught:
        await peer_adapter(http).submit(peer_envelope())
    assert caught.value.retry_after == 2


def test_peer_notice_example_is_what_our_webhooks_send() -> None:
    documented = json.loads(example("peer", "notice"))
    assert Status(documented["status"]) is Status.APPROVED
    notice = Envelope.model_validate(
        {
            "envelope_id": "e2",
            "idempotency_key": documented["notice_id"],
            "application_id": documented["application_id"],
            "request_id": "r",
            "item_code": documented["item_code"],
            "receiving_region": "dongguan",
            "competent_region": "shenzhen",
            "created_at": datetime.now(UTC),
            "body": {
                "kind": "status_notice",
                **{k: documented[k] for k in ("application_id", "status", "occurred_at")},
                "previous_status": documented["previous_status"],
                "region_case_no": documented["region_case_no"],
                "event_seq": documented["event_seq"],
            },
        }
    )
    assert notice_payload(notice) == documented


async def test_peer_refusing_our_signature_names_the_configuration_to_check(
    http: MockHttpClient, region: Region
) -> None:
    refusal = {
        "type": "https://tongban.example/problems/signature-refused",
        "status": 401,
        "detail": "没有合作方使用此签名密钥（keyid 未登记）",
        "check": "key_unknown",
    }
    region.post(ANY, status=401, body=json.dumps(refusal, ensure_ascii=False))
    with pytest.raises(RegionRejected) as caught:
        await peer_adapter(http).submit(peer_envelope())
    assert caught.value.code == "signature-refused"
    assert "key_unknown" in str(caught.value)
    assert "[federation.peers]" in str(caught.value)
