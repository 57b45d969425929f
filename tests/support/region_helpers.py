"""Helpers for adapter integration tests: envelopes to send, the callback receiver, configs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from adapters.base import AdapterConfig, PushAdapter
from adapters.sandbox import SandboxOptions
from gateway.envelope import Envelope, StatusEvent
from gateway.errors import CallbackRejected
from gateway.security.sm2 import SM2PrivateKey

VALID_ID = "11010519491231002X"


def envelope(kind: str = "submission", **overrides: Any) -> Envelope:
    """An envelope of `kind` with one provided and (optionally) one missing material."""
    missing = overrides.pop("missing", False)
    form = overrides.pop("form", {})
    id_number = overrides.pop("id_number", VALID_ID)
    bodies: dict[str, dict[str, Any]] = {
        "submission": {
            "kind": "submission",
            "handling_mode": "full_online",
            "channel": "window",
            "applicant": {
                "kind": "person",
                "name": "张三",
                "id_type": "resident_id",
                "id_number": id_number,
                "phone": "13800000000",
            },
            "materials": [
                {
                    "material_id": "m1",
                    "material_name": "身份证",
                    "provided": True,
                    "trust_level": "B",
                    "attachments": ["ab" * 32],
                },
                *(
                    [
                        {
                            "material_id": "m2",
                            "material_name": "户口簿",
                            "provided": False,
                            "trust_level": "C",
                        }
                    ]
                    if missing
                    else []
                ),
            ],
            "form": form,
            "delivery": {"method": "window_pickup"},
        },
        "supplement": {
            "kind": "supplement",
            "materials": [
                {
                    "material_id": "m2",
                    "material_name": "户口簿",
                    "provided": True,
                    "trust_level": "C",
                    "attachments": ["cd" * 32],
                }
            ],
        },
        "withdrawal": {"kind": "withdrawal", "reason": "申请人不再需要"},
        "rating": {"kind": "rating", "level": 5, "indicators": {"办事效率": 5}},
    }
    stamp = datetime.now(UTC)
    values: dict[str, Any] = {
        "envelope_id": f"env-{kind}-{stamp.timestamp()}",
        "idempotency_key": f"key-{kind}-{stamp.timestamp()}",
        "application_id": "app-1",
        "request_id": "0af7651916cd43dd8448eb211c80319c",
        "item_code": "440300-GA-001",
        "receiving_region": "dongguan",
        "competent_region": "shenzhen",
        "created_at": stamp,
        "body": bodies[kind],
    }
    values.update(overrides)
    return Envelope.model_validate(values)


@dataclass
class Receiver:
    """Our side of a region's callbacks: runs the adapter's `parse_callback`, records what
    it got. (A partner's side of our webhooks is test_partner_webhooks' `WebhookReceiver`.)"""

    url: str = ""
    events: list[StatusEvent] = field(default_factory=list)
    refused: list[CallbackRejected] = field(default_factory=list)
    adapter: PushAdapter | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        """The callback endpoint: the adapter parses the request and writes the reply."""
        assert self.adapter is not None, "the test sets receiver.adapter first"
        try:
            events = await self.adapter.parse_callback(request)
        except CallbackRejected as exc:
            self.refused.append(exc)
            return self.adapter.callback_reply(exc)
        self.events.extend(events)
        self.changed.set()
        return self.adapter.callback_reply(None)

    async def wait_for(
        self, predicate: Callable[[list[StatusEvent]], bool], seconds: float = 5
    ) -> None:
        async with asyncio.timeout(seconds):
            while not predicate(self.events):
                self.changed.clear()
                await self.changed.wait()


SandboxFactory = Callable[[SandboxOptions, Mapping[str, Any]], web.Application]


def config(
    region: str,
    base_url: str,
    callback_url: str | None = None,
    *,
    sm2_key: SM2PrivateKey | None = None,
    **settings: str,
) -> AdapterConfig:
    """`region`'s config: its plugin's demo defaults, with `base_url` and `settings` over them."""
    return AdapterConfig(
        region=region,
        settings={"url": base_url, **settings},
        timeout=2.0,
        callback_url=callback_url,
        sm2_key=sm2_key,
    )
