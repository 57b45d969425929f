"""`tongban demo --federation`: Dongguan's and Shenzhen's gateways, wired as peers.

Dongguan's gateway is the demo's own (in the foreground, with the Dongguan and
Zhangjiagang sandboxes and the demo partner); Shenzhen's gateway runs beside it as
a ``tongban serve`` process with its own data directory, keys and the Shenzhen
sandbox. Each names the other in ``[federation.peers]``; each finds the other's keys
through its JWKS URL. The demo application is for a Shenzhen item, so submitting it
at Dongguan crosses both gateways.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gateway.config import AdaptersSettings
from gateway.demo import DemoSandboxes, start_demo_sandboxes
from gateway.security.at_rest import PASSPHRASE_ENV
from gateway.security.demo import prepare_demo_security

# The two cities of the demo, as data: the receiving side keeps its own regions'
# adapters; the competent side's gateway is its peer.
RECEIVING_REGION = "dongguan"
RECEIVING_SANDBOXES = ("dongguan", "zhangjiagang")
COMPETENT_REGION = "shenzhen"


def receiving_overrides(peer_url: str) -> dict[str, Any]:
    """Settings for the receiving gateway (Dongguan's): the competent region's items go
    to its peer gateway at `peer_url`."""
    return {
        "adapters": {"regions": list(RECEIVING_SANDBOXES)},
        "federation": {
            "region": RECEIVING_REGION,
            "peers": {COMPETENT_REGION: {"base_url": peer_url, "regions": [COMPETENT_REGION]}},
        },
    }


@dataclass
class PeerGateway:
    """Shenzhen's gateway process and its sandbox."""

    url: str
    log_path: Path
    process: subprocess.Popen[bytes]
    sandboxes: DemoSandboxes
    _log: IO[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.sandboxes.stop()
        self._log.close()


def start_competent_gateway(data_dir: Path, port: int, peer_url: str) -> PeerGateway:
    """Start the competent region's gateway (Shenzhen's; ``tongban serve``) on `port`,
    its data in `data_dir`, with the receiving gateway at `peer_url` as its peer."""
    data_dir.mkdir(parents=True, exist_ok=True)
    passphrase = prepare_demo_security(data_dir, port)["key_passphrase"]
    url = f"http://127.0.0.1:{port}"
    sandboxes = start_demo_sandboxes(AdaptersSettings(regions=(COMPETENT_REGION,)), url)
    config = data_dir / "tongban.toml"
    config.write_text(
        f"""# Written by `tongban demo --federation`: Shenzhen's gateway, Dongguan's peer.
data_dir = "{data_dir.resolve()}"

[server]
host = "127.0.0.1"
port = {port}

[log]
level = "info"

[audit]
checkpoint_interval_seconds = 5.0

[adapters]
regions = ["{COMPETENT_REGION}"]
callback_base_url = "{url}"

[adapters.{COMPETENT_REGION}]
url = "{sandboxes.urls[COMPETENT_REGION]}"

[federation]
region = "{COMPETENT_REGION}"

[federation.peers.{RECEIVING_REGION}]
name = "东莞通办网关"
base_url = "{peer_url}"
""",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env[PASSPHRASE_ENV] = passphrase
    log_path = data_dir / "gateway.log"
    log = log_path.open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return PeerGateway(url, log_path, process, sandboxes, log)
