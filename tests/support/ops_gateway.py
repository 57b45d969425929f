"""A real `tongban serve` process for operations tests (backup, purge, key reload).

`GatewayProcess` writes a TOML config for a tmp data directory on the small test
catalogue with the test partner registered, runs the gateway as a subprocess, and
runs other ``tongban`` commands against the same config. `submit` sends a signed
application over real HTTP, each with its own applicant (so no business duplicate).
For an app served inside the test's own process see `support.gateway_server`; for a
`tongban serve` that async tests kill with SIGKILL and restart (crash tests, federation)
see `support.serve_process.ServeProcess`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from gateway.applications.identifiers import ric_check_char
from gateway.security import RequestSigner
from support.at_rest import tongban_env
from support.examples import APPLICATIONS_CATALOGUE, REPO, example, example_files
from support.loopback import free_port
from support.partner_signing import PARTNER, TestPartner

CALENDAR = REPO / "catalogs" / "calendar"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(value)


def to_toml(settings: Mapping[str, Any]) -> str:
    """Top-level keys and one table per section, inline tables below that."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in settings.items() if not isinstance(v, Mapping)]
    for name, section in settings.items():
        if isinstance(section, Mapping):
            lines.append(f"[{name}]")
            lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in section.items()]
    return "\n".join(lines) + "\n"


def resident_id(n: int) -> str:
    """A valid, obviously synthetic resident ID number, distinct for each n < 365,000."""
    born = f"1980{1 + n // 28 % 12:02d}{1 + n % 28:02d}"
    first17 = f"110105{born}{n // 336 % 1000:03d}"
    return first17 + ric_check_char(first17)


def application(n: int) -> dict[str, Any]:
    """The example full-online submission for a distinct applicant number `n`."""
    body = example("full_online_person")
    name = f"测试{n:05d}号"
    body["applicant"]["name"] = name
    body["applicant"]["id_number"] = resident_id(n)
    body["delivery"]["recipient"] = name
    return body


class GatewayProcess:
    """`tongban serve` on its own port and data directory, stopped by `stop()`."""

    def __init__(
        self,
        tmp: Path,
        extra: Mapping[str, Mapping[str, Any]] | None = None,
        partner: TestPartner = PARTNER,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.data_dir = tmp / "var"
        self.config = tmp / "tongban.toml"
        self.partner = partner
        self.log = tmp / "gateway.log"
        sections: dict[str, Any] = {
            "data_dir": str(self.data_dir),
            "server": {"host": "127.0.0.1", "port": self.port},
            "catalog": {"directory": str(APPLICATIONS_CATALOGUE)},
            "calendar": {"directory": str(CALENDAR)},
            "relay": {"enabled": False},
            "log": {"format": "json", "level": "warning"},
            "security": {"partners": {partner.id: partner.setting()}},
        }
        for name, values in (extra or {}).items():
            sections[name] = {**sections.get(name, {}), **values}
        tmp.mkdir(parents=True, exist_ok=True)
        self.sections = sections
        self.config.write_text(to_toml(sections), encoding="utf-8")
        self.env = tongban_env()
        self.process: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"
        self._signer = RequestSigner(partner.key, partner.keyid)

    def use_partner(self, partner: TestPartner) -> None:
        """Sign the following requests as `partner`."""
        self.partner = partner
        self._signer = RequestSigner(partner.key, partner.keyid)

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--config", str(self.config)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        import urllib.request

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log.read_text('utf-8')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as answer:  # noqa: S310 - loopback
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gateway not ready: {self.log.read_text('utf-8')[-3000:]}")

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``tongban ARGS --config <this config>`` with the same environment."""
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args, "--config", str(self.config)],
            env=self.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"tongban {' '.join(args)}: {result.stderr}{result.stdout}")
        return result

    async def signed(
        self, session: aiohttp.ClientSession, method: str, path: str, body: bytes,
        content_type: str,
    ) -> tuple[int, Any]:  # fmt: skip
        headers = {"Content-Type": content_type}
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        url = self.base + path
        headers.update(self._signer(method, url, headers, body))
        async with session.request(method, url, data=body or None, headers=headers) as answer:
            text = await answer.text()
            try:
                return answer.status, json.loads(text)
            except ValueError:
                return answer.status, text

    async def upload_examples(self, session: aiohttp.ClientSession) -> None:
        for file in example_files():
            status, answer = await self.signed(
                session, "POST", "/v1/attachments", file.content, file.media_type
            )
            assert status in (200, 201), answer

    async def submit(self, session: aiohttp.ClientSession, n: int) -> tuple[int, Any]:
        body = json.dumps(application(n), ensure_ascii=False).encode("utf-8")
        return await self.signed(session, "POST", "/v1/applications", body, "application/json")
