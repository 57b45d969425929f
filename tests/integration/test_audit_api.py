"""The audit REST routes on a live app: checkpoint, inclusion and consistency proofs."""

from __future__ import annotations

import base64

from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app_keys import AUDIT
from gateway.audit.checkpoints import Checkpoint
from gateway.audit.merkle import verify_consistency, verify_inclusion
from gateway.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE

Client = TestClient[web.Request, web.Application]


async def fill(client: Client, count: int) -> None:
    service = client.app[AUDIT]
    for i in range(count):
        async with service.store.transaction() as conn:
            await service.log.append(conn, kind="test.appended", actor="system", data={"i": i})


async def test_no_checkpoint_yet_is_a_404_problem(client: Client) -> None:
    response = await client.get("/v1/audit/checkpoints/latest")
    assert response.status == 404
    assert response.content_type == PROBLEM_MEDIA_TYPE


async def test_latest_checkpoint_is_signed_by_the_gateway_key(client: Client) -> None:
    await fill(client, 9)
    await client.app[AUDIT].sealer.seal()
    response = await client.get("/v1/audit/checkpoints/latest")
    assert response.status == 200
    checkpoint = Checkpoint.from_json(await response.json())
    assert checkpoint.tree_size == 9
    signer = client.app[AUDIT].signer
    assert checkpoint.key_id == signer.key_id
    signer.public_key.verify(checkpoint.signature, checkpoint.signed_bytes())
    body = await response.json()
    assert base64.b64decode(body["signature"]) == checkpoint.signature


async def test_inclusion_proof_verifies_against_the_checkpoint(client: Client) -> None:
    await fill(client, 13)
    await client.app[AUDIT].sealer.seal()
    for seq in (0, 6, 12):
        response = await client.get(f"/v1/audit/proofs/{seq}")
        assert response.status == 200
        body = await response.json()
        checkpoint = Checkpoint.from_json(body["checkpoint"])
        path = [bytes.fromhex(h) for h in body["path"]]
        leaf = bytes.fromhex(body["leaf_hash"])
        assert verify_inclusion(leaf, seq, checkpoint.tree_size, path, checkpoint.root_hash)


async def test_consistency_proof_between_two_checkpoints_verifies(client: Client) -> None:
    await fill(client, 5)
    old = await client.app[AUDIT].sealer.seal()
    await fill(client, 17)
    new = await client.app[AUDIT].sealer.seal()
    assert old is not None
    assert new is not None
    response = await client.get("/v1/audit/consistency", params={"first": 5, "second": 22})
    assert response.status == 200
    path = [bytes.fromhex(h) for h in (await response.json())["path"]]
    assert verify_consistency(5, 22, old.root_hash, new.root_hash, path)
    older = await client.get("/v1/audit/proofs/2", params={"tree_size": 5})
    assert (await older.json())["tree_size"] == 5


async def test_bad_and_unknown_input_are_problems(client: Client) -> None:
    await fill(client, 4)
    await client.app[AUDIT].sealer.seal()
    await fill(client, 1)  # entry 4 exists but no checkpoint covers it yet
    cases = {
        "/v1/audit/proofs/abc": 422,
        "/v1/audit/proofs/-1": 422,
        "/v1/audit/proofs/4": 404,
        "/v1/audit/proofs/1?tree_size=3": 404,
        "/v1/audit/proofs/1?tree_size=x": 422,
        "/v1/audit/consistency?first=1": 422,
        "/v1/audit/consistency?first=0&second=4": 422,
        "/v1/audit/consistency?first=3&second=2": 422,
        "/v1/audit/consistency?first=1&second=5": 404,
    }
    for url, status in cases.items():
        response = await client.get(url)
        assert (url, response.status) == (url, status)
        assert response.content_type == PROBLEM_MEDIA_TYPE
        assert (await response.json())["status"] == status
