"""What the gateway is compared with, in the same run and on the same machine.

- `bare_handler`: an aiohttp app with one handler that answers 202 with a small JSON
  body after reading the request: the floor for any aiohttp service here, and the
  ceiling of what the load generator can drive.
- `Nginx`: nginx as an unprivileged foreground process with a generated config in a
  temporary directory, `proxy_pass` to the sandbox (the proxy baseline; several
  gateway processes are ``tongban serve --workers N`` on one port, with no proxy).
  `nginx_binary` is None when nginx is not installed: the baseline is then reported
  as skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

__all__ = ["Nginx", "bare_handler_command", "nginx_binary"]


def bare_app() -> web.Application:
    """One route for every method and path: read the body, answer 202 JSON."""

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(
            status=202, body=b'{"status":"received"}', content_type="application/json"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def bare_handler_command(port: int) -> list[str]:
    """The command that serves `bare_app` on 127.0.0.1:`port` (no access log)."""
    return [sys.executable, "-m", "gateway.bench.baselines", str(port)]


def nginx_binary() -> str | None:
    """The nginx executable, or None if it is not installed."""
    return shutil.which("nginx") or next(
        (str(p) for p in (Path("/usr/sbin/nginx"),) if p.exists()), None
    )


_CONFIG = """daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    upstream backends {{
{servers}
        keepalive 256;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 10m;
        location / {{
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    """A running nginx: ``proxy_pass`` on 127.0.0.1:`port` to upstream ports."""

    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, work: Path, port: int, upstreams: list[int]) -> Nginx:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        work.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{p};" for p in upstreams)
        config = work / "nginx.conf"
        config.write_text(_CONFIG.format(work=work, port=port, servers=servers), "utf-8")
        with (work / "stderr.log").open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - the nginx binary, our config
                [binary, "-p", str(work), "-c", str(config), "-e", str(work / "error.log")],
                stdout=log,
                stderr=log,
            )
        return cls(process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


if __name__ == "__main__":
    web.run_app(bare_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None)
