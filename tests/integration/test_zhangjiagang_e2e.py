"""Zhangjiagang end to end: gateway and 国密 sandbox on loopback, SM2 on both sides.

The gateway signs with its SM2 key (from its key ring, unlocked at start-up) and
envelopes each session key to the sandbox's key; the sandbox reads the gateway's
SM2 key from the gateway's published JWK Set, checks every request, and pushes
results signed and enveloped to the gateway. A tampered result is refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
from support.examples import APPLICATIONS_CATALOGUE, example
from support.relay_world import World, running_world

from adapters.zhangjiagang import protocol
from adapters.zhangjiagang.sandbox import DEMO_REGION_KEY_PEM
from gateway.security.sm2 import SM2PrivateKey, SM2PublicKey
from gateway.security.sm2_keys import SM2KeyStore

PASSPHRASE = "e2e passphrase"  # noqa: S105 - a throwaway key ring in tmp_path
ITEM = """\
# Test catalogue: composed, not official.
items:
  - code: TEST-ZJG-HUKOU
    task_name: 户口迁移（测试）
    competent_region: zhangjiagang
    task_type: public_service
    dept_name: 张家港市公安局（测试）
    server_type: [person]
    handling_modes: [full_online, proxy]
    channels: [window, online]
    anticipate_day: 20
    promise_day: 5
    materials:
      - id: id_card
        material_name: 居民身份证
        trust_level: B
      - id: photo
        material_name: 近期免冠照片
        deferrable: true
        accepted_media_types: [image/jpeg, image/png]
      - id: household_register
        material_name: 户口簿
        material_format: paper
      - id: support
        material_name: 其他证明材料
        is_need: false
    form_fields:
      - name: reason
        label_zh: 迁移原因
        required: true
        kind: choice
        choices: [投靠, 工作, 购房]
      - name: move_date
        label_zh: 拟迁入日期
        kind: date
    source: {kind: composed, note: test data}
"""


def catalogue_with_zhangjiagang(tmp_path: Path) -> Path:
    directory = tmp_path / "catalogue"
    shutil.copytree(APPLICATIONS_CATALOGUE, directory)
    (directory / "zhangjiagang.yaml").write_text(ITEM, encoding="utf-8")
    return directory


async def status(world: World, application_id: str) -> str:
    return await world.status_of(application_id)


async def test_an_application_reaches_zhangjiagang_and_its_signed_result_comes_back(
    tmp_path: Path,
) -> None:
    ring = SM2KeyStore(tmp_path / "var" / "keys", PASSPHRASE).generate()
    settings = {
        "catalog": {"directory": str(catalogue_with_zhangjiagang(tmp_path))},
        "security": {"key_passphrase": PASSPHRASE},
    }
    async with running_world(tmp_path, settings=settings) as world:
        application_id = (await world.submit(example(item_code="TEST-ZJG-HUKOU")))["id"]

        async def approved() -> bool:
            return await status(world, application_id) == "approved"

        await world.wait_for(approved, what="approval from Zhangjiagang")
        (case,) = world.sandboxes["zhangjiagang"].cases()
        assert case["application_id"] == application_id
        view = await world.application(application_id)
        assert view["region_case_no"] == case["case_no"]

        # A result the region did sign, then altered in transit: refused, nothing changes.
        gateway_key = SM2PublicKey.from_jwk(ring.active.jwk())
        wrapper, _ = protocol.seal(
            "tongban-demo",
            SM2PrivateKey.from_pem(DEMO_REGION_KEY_PEM),
            {
                "eventId": f"{case['case_no']}-99",
                "caseNo": case["case_no"],
                "applyNo": application_id,
                "status": "BJBTG",
                "statusTime": "2026-03-03T10:00:00+08:00",
            },
            recipient=gateway_key,
        )
        wrapper["timestamp"] = str(int(wrapper["timestamp"]) + 1)
        url = world.gateway.client.make_url("/v1/regions/zhangjiagang/callbacks")
        async with aiohttp.ClientSession() as session, session.post(url, json=wrapper) as reply:
            assert reply.status == 401
            assert (await reply.json())["retCode"] == "100001"
        assert await status(world, application_id) == "approved"
