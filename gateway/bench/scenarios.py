"""What each scenario drives, and the baselines measured beside it in the same run.

Every scenario row is measured `runs` times for `duration` seconds with `concurrency`
closed-loop clients in a separate load process (`loadgen`); the gateway's CPU seconds
(per run, median) and peak RSS come from /proc. Rows and what they compare with:

- baselines: ``bare POST``/``bare GET`` (a bare aiohttp handler), ``sandbox direct``
  (the Shenzhen sandbox's GET /_sandbox/cases on a fresh sandbox) and ``nginx →
  sandbox`` (nginx proxy_pass to that sandbox; skipped when nginx is absent);
- ``intake``: signed POST /v1/applications (a fresh applicant each), vs bare POST;
- ``search``: signed GET /v1/catalog/items?q=户口, vs bare GET;
- ``read-under-write``: signed GET /v1/applications/{id}, idle, then while a second
  load process runs intake flat out; the busy row compares with the idle one;
- ``e2e`` and ``relay``: intake runs for `duration`, then the run waits until the
  Shenzhen sandbox holds every accepted application. e2e = accepted / time from the
  first submission to the last delivery; relay = deliveries after intake stopped /
  the time they took (the backlog drain), vs sandbox direct;
- ``growth``: intake and case GET with each of the ``--growth`` sizes of applications
  stored (`growth.fill`, the gateway stopped meanwhile), vs the smallest size.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gateway.bench.baselines import Nginx, bare_handler_command, nginx_binary
from gateway.bench.cluster import REPO, Cluster, free_port, wait_until_up
from gateway.bench.loadgen import LoadResult, Plan, finish_load, run_load, start_load
from gateway.bench.meter import cpu_seconds, peak_rss_mb
from gateway.bench.report import Row, measured
from gateway.security import RequestSigner, thumbprint

__all__ = ["SCENARIOS", "Bench"]

SCENARIOS = ("intake", "relay", "e2e", "search", "read-under-write", "growth")
EXAMPLES = REPO / "contracts" / "examples"
SEARCH_PATH = "/v1/catalog/items?q=" + quote("户口")


@dataclass
class Bench:
    """Options of one `tongban bench` run and the rows it has measured."""

    cluster: Cluster
    duration: float = 5.0
    concurrency: int = 16
    runs: int = 3
    load_processes: int = 1
    tick: Callable[[str], None] = lambda _: None
    rows: list[Row] = field(default_factory=list)
    _next_applicant: int = 0
    _template: bytes = b""
    _case_path: str = ""
    _case_id: str = ""
    _accepted: int = 0  # intake 202s so far: each becomes a case at the Shenzhen sandbox

    def plan(self, url: str, **options: Any) -> Plan:
        options.setdefault("duration", self.duration)
        options.setdefault("concurrency", self.concurrency)
        options.setdefault("processes", self.load_processes)
        return Plan(url=url, **options)

    def intake_plan(self, **options: Any) -> Plan:
        first, self._next_applicant = self._next_applicant, self._next_applicant + 2_000_000
        return self.plan(
            f"{self.cluster.url}/v1/applications", method="POST", kind="intake",
            body=self._template, partner_key=self.cluster.partner_private,
            first_number=first, **options,
        )  # fmt: skip

    def measure(
        self, name: str, target: str, plan: Plan | Callable[[], Plan], pids: list[int]
    ) -> Row:
        """Run `plan` `runs` times (a new one each run if it is a factory: new
        applicants); a row with the CPU and peak RSS of `pids`."""
        results, cpu = [], []
        for run in range(self.runs):
            self.tick(f"{name} (run {run + 1}/{self.runs})")
            before = cpu_seconds(pids)
            results.append(self.load(plan() if callable(plan) else plan))
            cpu.append(cpu_seconds(pids) - before)
        row = measured(name, target, results, cpu, peak_rss_mb(pids) if pids else None)
        self.rows.append(row)
        return row

    def load(self, plan: Plan) -> LoadResult:
        """Run `plan`, counting the applications it got accepted."""
        result = run_load(plan)
        if plan.kind == "intake":
            self._accepted += result.statuses.get(202, 0)
        return result

    # -- set-up ---------------------------------------------------------------

    def prepare(self) -> None:
        """Upload the example attachments and submit one application to read back."""
        for path in sorted((EXAMPLES / "attachments").iterdir()):
            media = "application/pdf" if path.suffix == ".pdf" else "image/jpeg"
            self.signed("POST", "/v1/attachments", path.read_bytes(), media, path.name)
        template = json.loads((EXAMPLES / "submission_proxy_person.json").read_text("utf-8"))
        self._template = json.dumps(template, ensure_ascii=False).encode("utf-8")
        from gateway.bench.loadgen import resident_id

        template["applicant"]["id_number"] = resident_id(29_999_999)
        body = json.dumps(template, ensure_ascii=False).encode("utf-8")
        answer = self.signed("POST", "/v1/applications", body, "application/json", "read-me")
        self._accepted += 1
        self._case_path = f"/v1/applications/{answer['id']}"
        self._case_id = str(answer["id"])

    def signed(self, method: str, path: str, body: bytes, media: str, key: str) -> Any:
        url = self.cluster.url + path
        signer = RequestSigner(
            self.cluster.partner_key, thumbprint(self.cluster.partner_key.public_key())
        )
        headers = {"Content-Type": media, "Idempotency-Key": key}
        headers.update(signer(method, url, headers, body))
        request = urllib.request.Request(url, body, headers, method=method)  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    # -- baselines ------------------------------------------------------------

    def baselines(self, work: Path) -> dict[str, Row]:
        import subprocess

        found: dict[str, Row] = {}
        port = free_port()
        bare = subprocess.Popen(  # noqa: S603 - our module
            bare_handler_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        sandbox_port = free_port()
        sandbox = subprocess.Popen(  # noqa: S603 - our CLI
            [str(Path(self.cluster.tongban)), "sandbox", "shenzhen", "--port", str(sandbox_port),
             "--config", str(self.cluster.work / "sandboxes.toml")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        nginx: Nginx | None = None
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", bare)
            wait_until_up(f"http://127.0.0.1:{sandbox_port}/_sandbox/cases", sandbox)
            base = f"http://127.0.0.1:{port}"
            found["bare POST"] = self.measure(
                "bare POST", "aiohttp handler",
                self.plan(f"{base}/v1/applications", method="POST", kind="fixed",
                          body=self._template, partner_key=self.cluster.partner_private),
                [bare.pid],
            )  # fmt: skip
            found["bare GET"] = self.measure(
                "bare GET", "aiohttp handler", self.plan(base + SEARCH_PATH), [bare.pid]
            )
            sandbox_url = f"http://127.0.0.1:{sandbox_port}/_sandbox/cases"
            found["sandbox direct"] = self.measure(
                "sandbox direct", "shenzhen sandbox", self.plan(sandbox_url), [sandbox.pid]
            )
            if nginx_binary() is None:
                self.rows.append(Row("nginx → sandbox", "nginx", note="skipped: no nginx"))
            else:
                nginx_port = free_port()
                nginx = Nginx.start(work / "nginx-baseline", nginx_port, [sandbox_port])
                wait_until_up(f"http://127.0.0.1:{nginx_port}/_sandbox/cases", nginx.process)
                row = self.measure(
                    "nginx → sandbox", "nginx proxy_pass",
                    self.plan(f"http://127.0.0.1:{nginx_port}/_sandbox/cases"),
                    [nginx.process.pid],
                )  # fmt: skip
                row.compare(found["sandbox direct"])
                found["nginx → sandbox"] = row
        finally:
            if nginx is not None:
                nginx.stop()
            for process in (bare, sandbox):
                process.terminate()
                process.wait(10)
        return found

    # -- scenarios ------------------------------------------------------------

    def intake(self, baselines: dict[str, Row]) -> None:
        row = self.measure("intake", "gateway", self.intake_plan, self.cluster.gateway_pids)
        row.compare(baselines.get("bare POST"))

    def search(self, baselines: dict[str, Row]) -> None:
        plan = self.plan(self.cluster.url + SEARCH_PATH, partner_key=self.cluster.partner_private)
        row = self.measure("search", "gateway", plan, self.cluster.gateway_pids)
        row.compare(baselines.get("bare GET"))

    def read_under_write(self, baselines: dict[str, Row]) -> None:
        read = self.plan(
            self.cluster.url + self._case_path,
            partner_key=self.cluster.partner_private,
            concurrency=max(1, self.concurrency // 8),
            processes=1,
        )
        pids = self.cluster.gateway_pids
        idle = self.measure("case GET idle", "gateway", read, pids)
        results, cpu = [], []
        for run in range(self.runs):
            self.tick(f"case GET under intake (run {run + 1}/{self.runs})")
            before = cpu_seconds(pids)
            writer = start_load(self.intake_plan())
            results.append(run_load(read))
            self._accepted += finish_load(writer, self.duration + 60).statuses.get(202, 0)
            cpu.append(cpu_seconds(pids) - before)
        busy = measured("case GET under intake", "gateway", results, cpu, peak_rss_mb(pids))
        busy.compare(idle)
        self.rows.append(busy)

    def deliveries(self, baselines: dict[str, Row], wanted: set[str]) -> None:
        """e2e and relay rows from the same load (see the module docstring)."""
        cases = self.cluster.sandbox_urls["shenzhen"] + "/_sandbox/cases"
        e2e, drain = [], []
        accepted_total, delivered_total = 0, 0
        pids = self.cluster.gateway_pids
        cpu: list[float] = []
        for run in range(self.runs):
            self.tick(f"e2e/relay (run {run + 1}/{self.runs})")
            already = self._drained(cases)
            before = cpu_seconds(pids)
            started = time.perf_counter()
            result = self.load(self.intake_plan())
            intake_done = time.perf_counter()
            at_intake_end = _case_count(cases) - already
            accepted = result.statuses.get(202, 0)
            delivered = at_intake_end
            deadline = intake_done + max(120.0, self.duration * 20)
            while delivered < accepted and time.perf_counter() < deadline:
                time.sleep(0.05)
                delivered = _case_count(cases) - already
            finished = time.perf_counter()
            cpu.append(cpu_seconds(pids) - before)
            accepted_total, delivered_total = accepted_total + accepted, delivered_total + delivered
            e2e.append(LoadResult(result.statuses, [], finished - started))
            backlog = delivered - at_intake_end
            drain.append(LoadResult(_counted(202, backlog), [], max(finished - intake_done, 1e-9)))
        note = f"delivered {delivered_total}/{accepted_total}"
        rss = peak_rss_mb(pids)
        if "e2e" in wanted:
            row = measured("e2e submit→sandbox", "gateway+relay", e2e, cpu, rss)
            row.note = note
            row.compare(baselines.get("sandbox direct"))
            self.rows.append(row)
        if "relay" in wanted:
            row = measured("relay drain", "gateway relay", drain, cpu, rss)
            row.note = note + " (backlog after intake stopped)"
            row.compare(baselines.get("sandbox direct"))
            self.rows.append(row)

    def _drained(self, cases: str) -> int:
        """Wait (up to 5 minutes) until every application accepted so far reached the
        sandbox, so a run counts only its own deliveries; the case count then."""
        deadline = time.perf_counter() + 300
        while (count := _case_count(cases)) < self._accepted and time.perf_counter() < deadline:
            time.sleep(0.5)
        return count

    def growth(self, sizes: list[int]) -> None:
        """Intake and case GET with `sizes` applications stored (filled by `growth`)."""
        from gateway.bench.growth import fill

        stored = 0
        pids = self.cluster.gateway_pids
        first: dict[str, Row] = {}
        for size in sorted(sizes):
            note = ""
            if size > stored:
                self.tick(f"filling the store to {size:,} applications")
                # The gateway's start-up grows with the open cases stored (the
                # calendar recompute examines each one whose due dates are not exact):
                # about a minute per million here. It is timed, not waited out blindly.
                with self.cluster.stopped(start_timeout=max(60.0, size / 5_000)):
                    started = time.perf_counter()
                    fill(self.cluster.config, self._case_id, stored, size - stored)
                    filled = time.perf_counter()
                restarted = time.perf_counter()
                note = f"fill {filled - started:.0f} s, restart {restarted - filled:.0f} s"
                stored = size
                pids = self.cluster.gateway_pids
            read = self.plan(
                self.cluster.url + self._case_path, partner_key=self.cluster.partner_private
            )
            for name, plan in (
                (f"intake @ {size:,} stored", self.intake_plan),
                (f"case GET @ {size:,} stored", read),
            ):
                row = self.measure(name, "gateway", plan, pids)
                row.note, note = note, ""
                kind = name.split(" @ ")[0]
                row.compare(first.get(kind))
                first.setdefault(kind, row)


def _counted(status: int, count: int) -> Any:
    from collections import Counter

    return Counter({status: count})


def _case_count(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
        return len(json.loads(response.read())["cases"])
