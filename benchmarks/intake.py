"""Intake throughput: POST /v1/applications over loopback HTTP on embedded SQLite.

Runs the gateway in-process with the test catalogue in a temporary data dir,
uploads the example attachments, then submits N applications (distinct applicants,
so none is a business duplicate) with C concurrent clients, each with its own
Idempotency-Key. Prints requests/s and latency percentiles.

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

from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.applications.identifiers import ric_check_char
from gateway.config import load_settings

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "contracts" / "examples" / "submission_proxy_person.json"


def resident_id(n: int) -> str:
    first17 = f"440300{1950 + n // 1000 % 50}0101{n % 1000:03d}"
    return first17 + ric_check_char(first17)


async def main(count: int, concurrency: int, synchronous: str) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            environ={},
            overrides={
                "data_dir": data_dir,
                "catalog": {"directory": str(REPO / "tests/data/applications_catalogue")},
                "store": {"sqlite_synchronous": synchronous},
            },
        )
        async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
            for path in sorted((REPO / "contracts/examples/attachments").iterdir()):
                media = "application/pdf" if path.suffix == ".pdf" else "image/jpeg"
                await client.post(
                    "/v1/attachments", data=path.read_bytes(), headers={"Content-Type": media}
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
                    started = time.perf_counter()
                    response = await client.post(
                        "/v1/applications", json=body, headers={"Idempotency-Key": f"bench-{n}"}
                    )
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
