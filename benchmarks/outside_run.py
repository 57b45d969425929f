"""Issue 12's outside run: attack a real `tongban serve` process on loopback, as a
hostile partner and a hostile network would, and report what it did to the gateway.

The gateway runs as its own process (its JSON log kept), with the test catalogue,
sandboxes for its regions, a partner key made for the run and short timeouts. While a
separate prober process times ``GET /healthz`` every 20 ms, this script sends, all at
once and bounded in count and time:

- schemathesis cases for every operation in contracts/openapi.yaml, signed as the
  partner (``--fuzz`` examples each, fixed seed);
- deep JSON (20,000 levels) to every JSON route, huge and non-ASCII numbers;
- broken multipart uploads;
- ``--aborted`` uploads dropped mid-body (half closed, half reset);
- ``--slow`` slow connections: a header dripped a byte a second, a body shorter than
  its Content-Length, and idle connections that never send a byte.

It prints the count of 5xx answers, the /healthz latencies (worst and p99), how the
slow connections ended, and every ERROR line the gateway logged. Exit status 1 if
any 5xx or ERROR line was seen.

    .venv/bin/python benchmarks/outside_run.py [--fuzz 25] [--aborted 200] [--slow 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, seed, settings
from support.loopback import free_port

from gateway.config import AdaptersSettings
from gateway.demo import start_demo_sandboxes
from gateway.security import RequestSigner, thumbprint
from gateway.security.keys import b64url, raw_public

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "contracts" / "openapi.yaml"
EXAMPLES = REPO / "contracts" / "examples"
CATALOGUE = REPO / "tests" / "data" / "applications_catalogue"
TONGBAN = Path(sys.executable).with_name("tongban")
OPS_TOKEN = "outside-run-ops-token"  # noqa: S105 - a throwaway gateway in a temp dir
DEEP = b"[" * 20_000 + b"]" * 20_000
IDLE_TIMEOUT = 5.0
BODY_TIMEOUT = 5.0
SLOW_HOLD_SECONDS = 30.0
BASELINE_SECONDS = 5.0


def write_config(path: Path, data_dir: Path, port: int, key: Ed25519PrivateKey) -> None:
    keyid = thumbprint(key.public_key())
    public = b64url(raw_public(key.public_key()))
    path.write_text(
        f"""data_dir = "{data_dir}"
[server]
host = "127.0.0.1"
port = {port}
idle_timeout = {IDLE_TIMEOUT}
body_timeout = {BODY_TIMEOUT}
[catalog]
directory = "{CATALOGUE}"
[log]
format = "json"
level = "info"
[ops]
token = "{OPS_TOKEN}"
[security]
key_passphrase = "outside run passphrase, keys in a temporary directory"
[security.partners.outside]
name = "Outside-run partner"
items = ["*"]
rate_limit_per_minute = 1000000
rate_limit_burst = 100000
[[security.partners.outside.keys]]
keyid = "{keyid}"
public_key = "{public}"
""",
        "utf-8",
    )


def probe_health(url: str, stop_file: str, out_file: str) -> None:
    """The prober process: GET /healthz every 20 ms on a fresh connection, until told."""

    async def run() -> list[tuple[float, float]]:
        latencies: list[tuple[float, float]] = []
        first = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=30)
        stop = Path(stop_file)
        while not stop.exists():  # noqa: ASYNC240 - a stat every 20 ms, on purpose
            started = time.perf_counter()
            try:
                async with (
                    aiohttp.ClientSession(timeout=timeout) as session,
                    session.get(url) as response,
                ):
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            latencies.append((round(time.monotonic() - first, 2), elapsed if ok else -elapsed))
            await asyncio.sleep(0.02)
        return latencies

    Path(out_file).write_text(json.dumps(asyncio.run(run())))


class Signing(requests.auth.AuthBase):
    """Signs each prepared request as the run's partner over the exact bytes sent."""

    def __init__(self, signer: RequestSigner) -> None:
        self._signer = signer

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        raw = request.body or b""
        body = raw.encode("utf-8") if isinstance(raw, str) else raw
        if not isinstance(body, bytes):
            raise TypeError("schemathesis sent a streamed body")
        if request.method == "POST":
            request.headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
        if request.method in ("POST", "PUT", "PATCH"):
            request.headers.setdefault("Content-Type", "application/octet-stream")
        headers = {k: v for k, v in request.headers.items() if isinstance(v, str)}
        method, url = str(request.method), str(request.url)
        request.headers.update(self._signer(method, url, headers, body))
        request.headers["Authorization"] = f"Bearer {OPS_TOKEN}"
        return request


def prepare(base: str, session: requests.Session) -> str:
    """Upload the example files and submit one application; its id."""
    for path in sorted((EXAMPLES / "attachments").iterdir()):
        media = "application/pdf" if path.suffix == ".pdf" else "image/jpeg"
        answer = session.post(
            f"{base}/v1/attachments",
            data=path.read_bytes(),
            headers={"Content-Type": media},
            timeout=30,
        )
        if answer.status_code not in (200, 201):
            raise SystemExit(f"upload failed: {answer.text}")
    body = json.loads((EXAMPLES / "submission_proxy_person.json").read_text("utf-8"))
    answer = session.post(f"{base}/v1/applications", json=body, timeout=30)
    if answer.status_code != 202:
        raise SystemExit(f"submission failed: {answer.text}")
    return str(answer.json()["id"])


def fuzz(base: str, session: requests.Session, app_id: str, examples: int) -> Counter[int]:
    """Schemathesis cases for every operation, signed; the status codes seen."""
    schemathesis.serializer.alias("application/pdf", "application/octet-stream")
    schema = schemathesis.openapi.from_path(SPEC)
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # the contract is valid

        @seed(20261203)
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def send(case: Any) -> None:
            if "id" in (case.path_parameters or {}):
                case.path_parameters = {**case.path_parameters, "id": app_id}
            try:
                response = case.call(base_url=base, session=session, timeout=30)
            except requests.RequestException:
                statuses[0] += 1
                return
            statuses[response.status_code] += 1

        send()
    return statuses


async def hostile_bodies(base: str, signer: RequestSigner, app_id: str) -> Counter[int]:
    """Deep JSON, huge numbers and broken multipart, signed, to the routes that parse."""
    statuses: Counter[int] = Counter()
    json_routes = [
        "/v1/applications",
        "/v1/applications/search",
        f"/v1/applications/{app_id}/supplements",
        f"/v1/applications/{app_id}/withdrawal",
        f"/v1/applications/{app_id}/rating",
        "/v1/regions/shenzhen/callbacks",
        "/v1/regions/zhangjiagang/callbacks",
        "/v1/regions/peer/callbacks",
    ]
    requests_: list[tuple[str, str, bytes, str]] = []
    for _ in range(12):
        for route in json_routes:
            requests_.append(("POST", route, DEEP, "application/json"))
            requests_.append(
                ("POST", route, b'{"level": 1' + b"9" * 5000 + b"}", "application/json")
            )
        requests_.append(
            ("POST", "/v1/attachments", b"--x\r\nzzz", "multipart/form-data; boundary=x")
        )
        requests_.append(("POST", "/v1/attachments", b"--x\r\nzzz", "multipart/form-data"))
        for value in ("9" * 5000, "%C2%B2", "%E2%91%A0"):  # 5,000 digits, ², ①
            requests_.append(("GET", f"/v1/catalog/items?page={value}", b"", ""))
            requests_.append(("GET", f"/v1/applications?limit={value}", b"", ""))
            requests_.append(("GET", f"/v1/audit/proofs/{value}", b"", ""))
    semaphore = asyncio.Semaphore(8)
    async with aiohttp.ClientSession() as session:

        async def one(method: str, path: str, body: bytes, content_type: str) -> None:
            headers = {"Content-Type": content_type} if content_type else {}
            if method == "POST":
                headers["Idempotency-Key"] = str(uuid.uuid4())
            url = base + path
            headers.update(signer(method, url, headers, body))
            async with (
                semaphore,
                session.request(
                    method, yarl_url(url), data=body or None, headers=headers
                ) as response,
            ):
                await response.read()
                statuses[response.status] += 1

        await asyncio.gather(*(one(*r) for r in requests_))
    return statuses


def yarl_url(url: str) -> Any:
    from yarl import URL

    return URL(url, encoded=True)


async def aborted_uploads(port: int, count: int) -> None:
    """Uploads that stop mid-body: half closed politely, half reset (RST)."""

    async def one(n: int) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            b"POST /v1/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/pdf\r\nContent-Length: 500000\r\n\r\n"
        )
        writer.write(head + b"%PDF-1.4 " + b"x" * 20_000)
        await writer.drain()
        if n % 2:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    for start in range(0, count, 20):
        await asyncio.gather(*(one(n) for n in range(start, min(count, start + 20))))


async def slow_connections(port: int, count: int) -> dict[str, Any]:
    """Header drips, short bodies and idle connections; how and when each ended."""
    ended: Counter[str] = Counter()
    closed_after: list[float] = []

    async def one(n: int) -> None:
        kind = ("header_drip", "short_body", "idle")[n % 3]
        started = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            ended[f"{kind}: refused"] += 1
            return
        try:
            if kind == "short_body":
                writer.write(
                    b"POST /v1/applications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
                )
            elif kind == "header_drip":
                writer.write(b"GET /healthz HTTP/1.1\r\n")

            async def drip() -> None:
                while kind == "header_drip":
                    await asyncio.sleep(1)
                    writer.write(b"X")
                    await writer.drain()

            dripper = asyncio.create_task(drip())
            try:
                async with asyncio.timeout(SLOW_HOLD_SECONDS):
                    answer = await reader.read()
                ended[f"{kind}: closed by gateway" + (" after an answer" if answer else "")] += 1
                closed_after.append(time.monotonic() - started)
            except TimeoutError:
                ended[f"{kind}: still open after {SLOW_HOLD_SECONDS:g} s"] += 1
            except ConnectionError:
                ended[f"{kind}: reset by gateway"] += 1
                closed_after.append(time.monotonic() - started)
            finally:
                dripper.cancel()
        finally:
            writer.close()

    await asyncio.gather(*(one(n) for n in range(count)))
    return {
        "ended": dict(sorted(ended.items())),
        "closed_after_s_max": round(max(closed_after), 2) if closed_after else None,
    }


def summary(latencies: list[float]) -> dict[str, Any]:
    """Count, median, p99 and max of /healthz latencies, in ms."""
    if not latencies:
        return {"probes": 0}
    return {
        "probes": len(latencies),
        "median_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(statistics.quantiles(latencies, n=100)[98], 1)
        if len(latencies) > 100
        else None,
        "max_ms": round(max(latencies), 1),
    }


def error_lines(log_path: Path) -> list[str]:
    found = []
    for line in log_path.read_text("utf-8", "replace").splitlines():
        try:
            level = json.loads(line).get("level")
        except ValueError:
            level = None
        if level in ("error", "critical") or (
            level is None and any(w in line for w in ("Traceback", "ERROR", "Error handling"))
        ):
            found.append(line[:300])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fuzz", type=int, default=25, help="schemathesis examples per operation")
    parser.add_argument("--aborted", type=int, default=200)
    parser.add_argument("--slow", type=int, default=500)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tongban-outside-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = Ed25519PrivateKey.generate()
    signer = RequestSigner(key, thumbprint(key.public_key()))
    sandboxes = start_demo_sandboxes(AdaptersSettings(), base, review_delay=1.0)
    config = work / "tongban.toml"
    write_config(config, work / "var", port, key)
    with config.open("a", encoding="utf-8") as extra:
        extra.write("[adapters]\n")
        extra.write(f'callback_base_url = "{base}"\n')
        for region, url in sandboxes.urls.items():
            extra.write(f'[adapters.{region}]\nurl = "{url}"\n')
    log_path = work / "gateway.log"
    with log_path.open("wb") as log:
        gateway = subprocess.Popen(  # noqa: S603 - our own CLI
            [str(TONGBAN), "serve", "--config", str(config)], stdout=log, stderr=log
        )
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        session = requests.Session()
        session.auth = Signing(signer)
        app_id = prepare(base, session)
        stop_file, out_file = str(work / "stop"), str(work / "latencies.json")
        prober = multiprocessing.get_context("spawn").Process(
            target=probe_health, args=(f"{base}/healthz", stop_file, out_file), daemon=True
        )
        prober.start()
        time.sleep(BASELINE_SECONDS)  # the machine's own noise, before any attack
        started = time.monotonic()
        fuzzed: dict[str, Counter[int]] = {}
        fuzz_thread = threading.Thread(
            target=lambda: fuzzed.setdefault("s", fuzz(base, session, app_id, args.fuzz))
        )
        fuzz_thread.start()

        async def attacks() -> tuple[Counter[int], dict[str, Any]]:
            bodies, _, slow = await asyncio.gather(
                hostile_bodies(base, signer, app_id),
                aborted_uploads(port, args.aborted),
                slow_connections(port, args.slow),
            )
            return bodies, slow

        bodies, slow = asyncio.run(attacks())
        fuzz_thread.join()
        elapsed = time.monotonic() - started
        time.sleep(1)
        Path(stop_file).touch()
        prober.join(30)
        latencies = json.loads(Path(out_file).read_text())
    finally:
        Path(work / "stop").touch()
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(30)
        sandboxes.stop()

    baseline = [v for t, v in latencies if t < BASELINE_SECONDS and v >= 0]
    during = [(t, v) for t, v in latencies if t >= BASELINE_SECONDS]
    ok = [v for _, v in during if v >= 0]
    statuses = fuzzed.get("s", Counter()) + bodies
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    errors = error_lines(log_path)
    report = {
        "duration_s": round(elapsed, 1),
        "requests": {
            "schemathesis": sum(fuzzed.get("s", Counter()).values()),
            "hostile_bodies": sum(bodies.values()),
            "aborted_uploads": args.aborted,
            "slow_connections": args.slow,
        },
        "statuses": dict(sorted(statuses.items())),
        "5xx": server_errors,
        "healthz_before_attack": summary(baseline),
        "healthz_during_attack": {
            **summary(ok),
            "failed": len(during) - len(ok),
            "worst": sorted(during, key=lambda p: -abs(p[1]))[:5],
        },
        "slow_connections": slow,
        "error_log_lines": len(errors),
        "client_gone_lines": sum(
            1
            for line in log_path.read_text("utf-8", "replace").splitlines()
            if "http.client_gone" in line
        ),
        "log": str(log_path),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    for line in errors[:20]:
        print("ERROR LINE:", line)
    return 1 if server_errors or errors else 0


if __name__ == "__main__":
    sys.exit(main())
