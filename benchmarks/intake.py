"""Intake throughput: POST /v1/applications over loopback HTTP on embedded SQLite.

Runs the gateway in-process with the test catalogue in a temporary data dir, as
in production: a partner signs every request (RFC 9421, with a nonce), the gateway
key ring is unlocked so receipts are signed, and every intake appends its audit
entry. Uploads the example attachments, then submits N applications (distinct
applicants, so none is a business duplicate) with C concurrent clients, each with
its own Idempotency-Key. Prints requests/s and latency percentiles.

    .venv/bin/python benchmarks/intake.py [--count 500] [--concurrency 8] [--synchronous full]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.app import create_app
from gateway.applications.identifiers import ric_check_char
from gateway.config import load_settings
from gateway.security import KeyStore, RequestSigner, thumbprint
from gateway.security.keys import b64url, raw_public

PASSPHRASE = "benchmark passphrase"  # noqa: S105 - a throwaway key ring in a temp dir

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "contracts" / "examples" / "submission_proxy_person.json"


def resident_id(n: int) -> str:
    first17 = f"440300{1950 + n // 1000 % 50}0101{n % 1000:03d}"
    return first17 + ric_check_char(first17)


async def signed_post(
    client: TestClient[web.Request, web.Application],
    signer: RequestSigner,
    path: str,
    body: bytes,
    headers: dict[str, str],
) -> ClientResponse:
    """POST `body` signed as the partner, exactly as the reference client does."""
    url = str(client.make_url(path))
    return await client.post(
        path, data=body, headers={**headers, **signer("POST", url, headers, body)}
    )


async def main(count: int, concurrency: int, synchronous: str) -> None:
    key = Ed25519PrivateKey.generate()
    signer = RequestSigner(key, thumbprint(key.public_key()))
    partner = {
        "keys": [{"public_key": b64url(raw_public(key.public_key()))}],
        "items": ["*"],
        "rate_limit_per_minute": 10_000_000,
        "rate_limit_burst": 100_000,
    }
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            environ={},
            overrides={
                "data_dir": data_dir,
                "catalog": {"directory": str(REPO / "tests/data/applications_catalogue")},
                "store": {"sqlite_synchronous": synchronous},
                "security": {"key_passphrase": PASSPHRASE, "partners": {"bench": partner}},
            },
        )
        KeyStore(settings.data_dir / "keys", PASSPHRASE).generate()
        async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
            for path in sorted((REPO / "contracts/examples/attachments").iterdir()):
                media = "application/pdf" if path.suffix == ".pdf" else "image/jpeg"
                await signed_post(
                    client,
                    signer,
                    "/v1/attachments",
                    path.read_bytes(),
                    {"Content-Type": media, "Idempotency-Key": path.name},
                )
            template = json.loads(EXAMPLE.read_text("utf-8"))
            latencies: list[float] = []
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(count):
                queue.put_nowait(n)

            async def worker() -> None:
                while not queue.empty():
                    n = queue.get_nowait()
                    body = json.loads(json.dumps(template))
                    body["applicant"]["id_number"] = resident_id(n)
                    headers = {"Content-Type": "application/json", "Idempotency-Key": f"bench-{n}"}
                    started = time.perf_counter()
                    raw = json.dumps(body, ensure_ascii=False).encode()
                    response = await signed_post(client, signer, "/v1/applications", raw, headers)
                    await response.read()
                    latencies.append(time.perf_counter() - started)
                    if response.status != 202:
                        raise SystemExit(f"unexpected status {response.status}")

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - began
    latencies.sort()
    pct = statistics.quantiles(latencies, n=100)
    print(
        f"intake: {count} applications, concurrency {concurrency}, sqlite synchronous="
        f"{synchronous}: {count / elapsed:.0f} req/s; latency p50 {pct[49] * 1000:.1f} ms, "
        f"p95 {pct[94] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrency, args.synchronous))
