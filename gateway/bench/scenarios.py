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
- ``e2e``: intake runs for `duration` with the relay delivering meanwhile, then the
  run waits until the Shenzhen sandbox holds every accepted application: accepted /
  time from the first submission to the last delivery, vs sandbox direct;
- ``relay``: the backlog drain. The gateway is restarted with its relay paused,
  intake runs for `duration`, and the gateway is restarted with the relay on:
  deliveries / the time from its start until the sandbox holds them all, with the
  gateway's CPU over that time (the note gives it per delivery), vs sandbox direct.
  (Measured after intake instead, the "backlog" was whatever the relay had not kept
  up with, and the sandboxes' pushed results ran beside it);
- ``growth``: intake and case GET with each of the ``--growth`` sizes of applications
  stored (`growth.fill`, the gateway stopped meanwhile), vs the smallest size;
- ``added-latency``: open loop at a fixed ``--rate`` (default 300/s; see `loadgen`):
  in each run, ``sandbox direct @ RATE/s`` (the sandbox call of the ``sandbox direct``
  baseline, a fresh sandbox) and then ``intake @ RATE/s`` (signed intake at the
  gateway), so both see the same machine minutes apart; the intake row's
  ``added_p99_ms`` is its p99 minus the sandbox's: the latency the gateway adds.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
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

SCENARIOS = ("intake", "relay", "e2e", "search", "read-under-write", "growth", "added-latency")
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
    rate: float = 300.0
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
        self,
        name: str,
        target: str,
        plan: Plan | Callable[[], Plan],
        pids: list[int],
        *,
        store: bool = False,
    ) -> Row:
        """Run `plan` `runs` times (a new one each run if it is a factory: new
        applicants); a row with the CPU and peak RSS of `pids`. With `store` (a
        gateway row), the note adds the CPU of the PostgreSQL backends serving it."""
        results, cpu, store_cpu = [], [], []
        for run in range(self.runs):
            self.tick(f"{name} (run {run + 1}/{self.runs})")
            backends = self.backends_cpu() if store else {}
            before = cpu_seconds(pids)
            results.append(self.load(plan() if callable(plan) else plan))
            cpu.append(cpu_seconds(pids) - before)
            if backends:
                store_cpu.append(self.backends_cpu_since(backends))
        row = measured(name, target, results, cpu, peak_rss_mb(pids) if pids else None)
        if store:
            self.note_store_cpu(row, results, store_cpu)
        self.rows.append(row)
        return row

    def backends_cpu(self) -> dict[int, float]:
        """CPU seconds so far of each PostgreSQL backend of the run's database."""
        return {pid: cpu_seconds([pid]) for pid in self.cluster.store_pids()}

    def backends_cpu_since(self, before: dict[int, float]) -> float:
        """CPU seconds the run's PostgreSQL backends used since `before` (new ones too)."""
        return sum(cpu_seconds([pid]) - before.get(pid, 0.0) for pid in self.cluster.store_pids())

    @staticmethod
    def note_store_cpu(row: Row, results: list[LoadResult], store_cpu: list[float]) -> None:
        """Add to `row`'s note the CPU per answer of the gateway and of PostgreSQL (all
        they did meanwhile: the relay's deliveries of earlier rows' backlog too)."""
        answers = statistics.median(result.count for result in results) if results else 0
        if not answers or row.cpu_s is None:
            return
        cost = f"CPU per answer: gateway {row.cpu_s / answers * 1000:.2f} ms"
        if store_cpu:
            cost += f", PostgreSQL backends {statistics.median(store_cpu) / answers * 1000:.2f} ms"
        row.note = f"{row.note}; {cost}" if row.note else cost

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

    @contextlib.contextmanager
    def fresh_sandbox(self) -> Iterator[tuple[str, int]]:
        """A Shenzhen sandbox of its own (no cases): the URL of its case list, its pid."""
        port = free_port()
        sandbox = subprocess.Popen(  # noqa: S603 - our CLI
            [str(Path(self.cluster.tongban)), "sandbox", "shenzhen", "--port", str(port),
             "--config", str(self.cluster.work / "sandboxes.toml")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/_sandbox/cases"
            wait_until_up(url, sandbox)
            yield url, sandbox.pid
        finally:
            sandbox.terminate()
            sandbox.wait(10)

    def baselines(self, work: Path) -> dict[str, Row]:
        found: dict[str, Row] = {}
        port = free_port()
        bare = subprocess.Popen(  # noqa: S603 - our module
            bare_handler_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        nginx: Nginx | None = None
        try:
            with self.fresh_sandbox() as (sandbox_url, sandbox_pid):
                wait_until_up(f"http://127.0.0.1:{port}/", bare)
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
                found["sandbox direct"] = self.measure(
                    "sandbox direct", "shenzhen sandbox", self.plan(sandbox_url), [sandbox_pid]
                )
                if nginx_binary() is None:
                    self.rows.append(Row("nginx → sandbox", "nginx", note="skipped: no nginx"))
                else:
                    nginx_port = free_port()
                    sandbox_port = int(sandbox_url.split(":")[2].split("/")[0])
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
            bare.terminate()
            bare.wait(10)
        return found

    # -- scenarios ------------------------------------------------------------

    def intake(self, baselines: dict[str, Row]) -> None:
        row = self.measure(
            "intake", "gateway", self.intake_plan, self.cluster.gateway_pids, store=True
        )
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

    def added_latency(self) -> None:
        """Open loop at `rate`: sandbox direct, then intake, in each run (module docstring)."""
        rate = self.rate
        connections = max(self.concurrency, 64)  # open loop: enough never to be the queue
        pids = self.cluster.gateway_pids
        direct: list[LoadResult] = []
        intake: list[LoadResult] = []
        direct_cpu: list[float] = []
        intake_cpu: list[float] = []
        store_cpu: list[float] = []
        with self.fresh_sandbox() as (sandbox_url, sandbox_pid):
            direct_plan = self.plan(sandbox_url, rate=rate, concurrency=connections)
            for run in range(self.runs):
                self.tick(f"sandbox direct @ {rate:g}/s (run {run + 1}/{self.runs})")
                before = cpu_seconds([sandbox_pid])
                direct.append(run_load(direct_plan))
                direct_cpu.append(cpu_seconds([sandbox_pid]) - before)
                self.tick(f"intake @ {rate:g}/s (run {run + 1}/{self.runs})")
                backends = self.backends_cpu()
                before = cpu_seconds(pids)
                intake.append(self.load(self.intake_plan(rate=rate, concurrency=connections)))
                intake_cpu.append(cpu_seconds(pids) - before)
                if backends:
                    store_cpu.append(self.backends_cpu_since(backends))
            sandbox_rss = peak_rss_mb([sandbox_pid])
        name = f"{rate:g}/s"
        base = measured(f"sandbox direct @ {name}", "shenzhen sandbox", direct, direct_cpu,
                        sandbox_rss, rate=rate)  # fmt: skip
        row = measured(f"intake @ {name}", "gateway", intake, intake_cpu, peak_rss_mb(pids),
                       rate=rate)  # fmt: skip
        row.compare(base)
        self.note_store_cpu(row, intake, store_cpu)
        self.rows.extend([base, row])

    def deliveries(self, baselines: dict[str, Row], wanted: set[str]) -> None:
        """The e2e and relay rows (see the module docstring)."""
        if "e2e" in wanted:
            self.end_to_end(baselines)
        if "relay" in wanted:
            self.relay_drain(baselines)

    def end_to_end(self, baselines: dict[str, Row]) -> None:
        """Intake with the relay running; until the sandbox holds every accepted case."""
        count = self.cluster.sandbox_urls["shenzhen"] + "/_sandbox/count"
        pids = self.cluster.gateway_pids
        results, cpu, accepted_total, delivered_total = [], [], 0, 0
        for run in range(self.runs):
            self.tick(f"e2e (run {run + 1}/{self.runs})")
            already = self._drained(count)
            before = cpu_seconds(pids)
            started = time.perf_counter()
            result = self.load(self.intake_plan())
            accepted = result.statuses.get(202, 0)
            delivered = self._wait_for(count, already + accepted) - already
            cpu.append(cpu_seconds(pids) - before)
            accepted_total, delivered_total = accepted_total + accepted, delivered_total + delivered
            results.append(LoadResult(result.statuses, [], time.perf_counter() - started))
        row = measured("e2e submit→sandbox", "gateway+relay", results, cpu, peak_rss_mb(pids))
        row.note = f"delivered {delivered_total}/{accepted_total}"
        row.compare(baselines.get("sandbox direct"))
        self.rows.append(row)

    def relay_drain(self, baselines: dict[str, Row]) -> None:
        """A backlog taken in with the relay paused (the gateway restarted without it),
        then drained by a gateway restarted with it: deliveries/s and CPU from the
        moment the gateway answers until the sandbox holds every case."""
        count = self.cluster.sandbox_urls["shenzhen"] + "/_sandbox/count"
        results, cpu, backlog_total, drained_total = [], [], 0, 0
        for run in range(self.runs):
            self.tick(f"relay drain (run {run + 1}/{self.runs})")
            self._drained(count)
            self.cluster.restart(relay=False)
            backlog = self.load(self.intake_plan()).statuses.get(202, 0)
            self.cluster.restart(relay=True)
            pids = self.cluster.gateway_pids
            before, started = cpu_seconds(pids), time.perf_counter()
            at_start = _case_count(count)
            drained = self._wait_for(count, self._accepted) - at_start
            elapsed = time.perf_counter() - started
            cpu.append(cpu_seconds(pids) - before)
            backlog_total, drained_total = backlog_total + backlog, drained_total + drained
            results.append(LoadResult(_counted(202, drained), [], max(elapsed, 1e-9)))
        pids = self.cluster.gateway_pids
        row = measured("relay drain", "gateway relay", results, cpu, peak_rss_mb(pids))
        per_delivery = sum(cpu) * 1000 / max(drained_total, 1)
        row.note = (
            f"drained {drained_total} of a {backlog_total} backlog taken in with the relay"
            f" paused; {per_delivery:.2f} ms CPU per delivery"
        )
        row.compare(baselines.get("sandbox direct"))
        self.rows.append(row)

    def _wait_for(self, count_url: str, cases: int) -> int:
        """Poll until the sandbox holds `cases` cases (at most 120 s, or 20 durations);
        the count then."""
        deadline = time.perf_counter() + max(120.0, self.duration * 20)
        while (count := _case_count(count_url)) < cases and time.perf_counter() < deadline:
            time.sleep(0.02)
        return count

    def _drained(self, count_url: str) -> int:
        """Wait (up to 5 minutes) until every application accepted so far reached the
        sandbox, so a run counts only its own deliveries; the case count then."""
        deadline = time.perf_counter() + 300
        while (count := _case_count(count_url)) < self._accepted and time.perf_counter() < deadline:
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
    """The case count at a sandbox's ``/_sandbox/count`` (not the listing, which grows
    to megabytes of JSON the sandbox would render at every poll)."""
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
        count: int = json.loads(response.read())["cases"]
        return count
