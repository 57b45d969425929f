"""Recording an outcome can fail after the region has answered: the relay never asks
the region again for it, and never stops. A real store on each backend, a scripted
region, and a listener that fails the way the rest of the gateway can."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from structlog.typing import EventDict
from support.at_rest import TEST_PASSPHRASE
from support.outbox import insert_received_application, relay_envelope

from gateway.envelope import Envelope, RegionAck
from gateway.errors import StoreUnavailable
from gateway.outbox import enqueue, open_envelope
from gateway.relay.deliveries import DeliveryRecord, DeliveryRef
from gateway.relay.reasons import UNSETTLED_ZH
from gateway.relay.testing import RecordingListener, ScriptedRegion
from gateway.relay.worker import DestinationLane, RelayWorker
from gateway.security.pii import PiiCipher, load_keys
from gateway.store import Connection, Row, Store, bundled_migrations, migrate


@dataclass
class FailingListener(RecordingListener):
    """Records outcomes, after raising the scripted errors (one per call) first."""

    on_delivered: list[Exception] = field(default_factory=list)
    on_dead: list[Exception] = field(default_factory=list)

    async def delivered(
        self, conn: Connection, record: DeliveryRecord, ack: RegionAck | None
    ) -> None:
        if self.on_delivered:
            raise self.on_delivered.pop(0)
        await super().delivered(conn, record, ack)

    async def dead_lettered(
        self, conn: Connection, record: DeliveryRef, reason_zh: str, detail: str
    ) -> None:
        if self.on_dead:
            raise self.on_dead.pop(0)
        await super().dead_lettered(conn, record, reason_zh, detail)


@pytest.fixture(scope="module")
def cipher(tmp_path_factory: pytest.TempPathFactory) -> PiiCipher:
    return PiiCipher(load_keys({}, None, None, tmp_path_factory.mktemp("pii"), TEST_PASSPHRASE))


@pytest.fixture
async def migrated(store: Store) -> Store:
    await migrate(store, bundled_migrations(store.backend))
    return store


async def queue(store: Store, cipher: PiiCipher, application_id: str) -> str:
    """A received application and its submission's delivery."""
    envelope = relay_envelope(application_id)
    async with store.transaction() as conn:
        await insert_received_application(conn, envelope, datetime.now(UTC))
        return await enqueue(conn, envelope, cipher=cipher)


def worker(
    store: Store, cipher: PiiCipher, region: ScriptedRegion, listener: RecordingListener
) -> RelayWorker:
    def opener(row: Row) -> Envelope:
        return open_envelope(row, cipher)

    return RelayWorker(
        store,
        {"shenzhen": region},
        {"shenzhen": DestinationLane()},
        listener,
        opener=opener,
        instance="gw-a",
        lease=timedelta(seconds=0),  # expired at once: a delivery left in flight is resent
        in_call_attempts=1,
    )


async def deliver_all(relay: RelayWorker, rounds: int = 3) -> None:
    for _ in range(rounds):
        await relay.claim_round()
        await relay.drain()


async def delivery(store: Store, delivery_id: str) -> Row:
    async with store.transaction() as conn:
        row = await conn.fetch_one("SELECT * FROM deliveries WHERE id = :id", {"id": delivery_id})
        attempts = await conn.fetch_all(
            "SELECT outcome FROM delivery_attempts WHERE delivery_id = :id", {"id": delivery_id}
        )
    assert row is not None
    return {**row, "attempt_outcomes": [a["outcome"] for a in attempts]}


async def test_a_store_hiccup_at_settle_is_retried_without_calling_the_region_again(
    migrated: Store, cipher: PiiCipher
) -> None:
    region = ScriptedRegion("shenzhen")
    busy = StoreUnavailable("deadlock detected")
    listener = FailingListener(on_delivered=[busy, busy])
    delivery_id = await queue(migrated, cipher, "app-1")
    relay = worker(migrated, cipher, region, listener)
    await deliver_all(relay)
    await relay.stop()
    row = await delivery(migrated, delivery_id)
    assert len(region.calls) == 1
    assert row["state"] == "delivered"
    assert row["attempt_outcomes"] == ["delivered"]
    assert listener.delivered_ids == [delivery_id]


async def test_an_outcome_that_cannot_be_recorded_is_a_dead_letter_and_the_relay_goes_on(
    migrated: Store, cipher: PiiCipher, logs: list[EventDict]
) -> None:
    region = ScriptedRegion("shenzhen")
    listener = FailingListener(on_delivered=[RuntimeError("a bug in the listener")])
    broken = await queue(migrated, cipher, "app-1")
    relay = worker(migrated, cipher, region, listener)
    await deliver_all(relay)
    later = await queue(migrated, cipher, "app-2")
    await deliver_all(relay)
    await relay.stop()
    dead, fine = await delivery(migrated, broken), await delivery(migrated, later)
    assert [call.application_id for call in region.calls] == ["app-1", "app-2"]
    assert dead["state"] == "failed"
    assert dead["dead_reason_zh"] == UNSETTLED_ZH
    assert dead["region_case_no"] == "SHENZHEN-000001"  # the region's answer, kept
    assert "SHENZHEN-000001" in dead["dead_detail"]
    assert "RuntimeError: a bug in the listener" in dead["dead_detail"]
    assert dead["attempt_outcomes"] == ["delivered"]
    assert [d[0] for d in listener.dead] == [broken]  # its application is told
    assert fine["state"] == "delivered"
    (failure,) = [e for e in logs if e["event"] == "relay.settle_failed"]
    assert failure["exc_info"]


async def test_a_dead_letter_is_written_even_when_its_application_cannot_be_told(
    migrated: Store, cipher: PiiCipher, logs: list[EventDict]
) -> None:
    region = ScriptedRegion("shenzhen")
    listener = FailingListener(
        on_delivered=[RuntimeError("first bug")], on_dead=[RuntimeError("second bug")]
    )
    delivery_id = await queue(migrated, cipher, "app-1")
    relay = worker(migrated, cipher, region, listener)
    await deliver_all(relay)
    await relay.stop()
    row = await delivery(migrated, delivery_id)
    assert len(region.calls) == 1
    assert row["state"] == "failed"
    assert row["dead_reason_zh"] == UNSETTLED_ZH
    assert listener.dead == []
    assert [e["event"] for e in logs if e.get("log_level") == "error"] == [
        "relay.settle_failed",
        "relay.dead_letter_unannounced",
    ]
