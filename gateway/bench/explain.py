"""Query plans for every SQL statement a partner's requests run (`tongban bench --explain`).

Rather than a hand-kept list that drifts from the code, the statements are caught
as they run: the gateway app is served in-process on a fresh store (SQLite, or a
fresh PostgreSQL database), the store connection classes' query methods are wrapped
to record each distinct statement with its first parameters, and one signed request
of each kind a partner sends is made (upload, intake, read, list, search, catalogue,
audit). Each recorded statement is then explained on the same store: ``EXPLAIN
QUERY PLAN`` on SQLite, ``EXPLAIN`` on PostgreSQL (neither runs the statement).
Lines showing a full scan (SQLite ``SCAN`` of a table, PostgreSQL ``Seq Scan``) are
marked, so missing indexes stand out.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.bench.cluster import CATALOGUE, PASSPHRASE, POSTGRES_ADMIN, postgres_admin
from gateway.bench.loadgen import resident_id
from gateway.bench.scenarios import EXAMPLES, SEARCH_PATH
from gateway.security import RequestSigner, thumbprint
from gateway.security.keys import b64url, raw_public

__all__ = ["explain_request_paths"]

Recorded = dict[str, Any]
_SKIP = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET ", "SELECT 1")


def _wrap(cls: type, recorded: dict[str, Recorded]) -> Callable[[], None]:
    """Record the SQL and first params of `cls`'s query methods; returns an undo."""
    originals = {}
    for name in ("execute", "fetch_one", "fetch_all"):
        original = getattr(cls, name)
        originals[name] = original

        def recording(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def method(self: Any, sql: str, params: Any = None) -> Any:
                if not sql.lstrip().upper().startswith(_SKIP):
                    recorded.setdefault(" ".join(sql.split()), dict(params or {}))
                return await original(self, sql, params)

            return method

        setattr(cls, name, recording(original))

    def undo() -> None:
        for name, original in originals.items():
            setattr(cls, name, original)

    return undo


async def _drive(client: TestClient[Any, Any], signer: RequestSigner) -> None:
    async def call(
        method: str, path: str, body: bytes = b"", media: str = "", required: bool = True
    ) -> Any:
        headers = {"Content-Type": media} if media else {}
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        url = str(client.make_url(path))
        headers.update(signer(method, url, headers, body))
        response = await client.request(method, path, data=body or None, headers=headers)
        text = await response.text()
        if response.status >= 400 and required:
            raise RuntimeError(f"{method} {path}: {response.status} {text[:300]}")
        return json.loads(text) if text.startswith(("{", "[")) else None

    for path in sorted((EXAMPLES / "attachments").iterdir()):
        media = "application/pdf" if path.suffix == ".pdf" else "image/jpeg"
        await call("POST", "/v1/attachments", path.read_bytes(), media)
    template = json.loads((EXAMPLES / "submission_proxy_person.json").read_text("utf-8"))
    template["applicant"]["id_number"] = resident_id(1)
    body = json.dumps(template, ensure_ascii=False).encode("utf-8")
    created = await call("POST", "/v1/applications", body, "application/json")
    await call("GET", f"/v1/applications/{created['id']}")
    await call("GET", "/v1/applications?limit=20")
    search = {"applicant_id_number": resident_id(1)}
    search_body = json.dumps(search).encode()
    await call("POST", "/v1/applications/search", search_body, "application/json", False)
    await call("GET", SEARCH_PATH)
    await call("GET", f"/v1/catalog/items/{template['item_code']}")
    await call("GET", "/v1/audit/checkpoints/latest", required=False)  # 404 before a seal


async def _plans(store: Any, recorded: dict[str, Recorded]) -> list[tuple[str, list[str]]]:
    prefix = "EXPLAIN QUERY PLAN " if store.backend == "sqlite" else "EXPLAIN "
    found = []
    for sql, params in recorded.items():
        try:  # one transaction each: on PostgreSQL a failed one aborts the rest
            async with store.transaction() as conn:
                rows = await conn.fetch_all(prefix + sql, params)
        except Exception as exc:
            found.append((sql, [f"(cannot explain: {exc})"]))
            continue
        lines = [str(row.get("detail") or row.get("QUERY PLAN") or row) for row in rows]
        found.append((sql, lines))
    return found


async def explain_request_paths(backend: str) -> list[tuple[str, list[str]]]:
    """Every statement the partner requests ran, with its plan lines."""
    from gateway.app import create_app
    from gateway.config import load_settings
    from gateway.store import open_store
    from gateway.store.postgres import PostgresConnection
    from gateway.store.sqlite_threads import ThreadedConnection

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    database = f"tb_explain_{uuid.uuid4().hex[:8]}" if backend == "postgres" else None
    recorded: dict[str, Recorded] = {}
    with tempfile.TemporaryDirectory(prefix="tongban-explain-") as work:
        store_url = None
        if database is not None:
            await postgres_admin(f'CREATE DATABASE "{database}"')
            store_url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{database}"
        partner = {
            "name": "Explain partner", "items": ["*"],
            "keys": [{"keyid": thumbprint(public), "public_key": b64url(raw_public(public))}],
        }  # fmt: skip
        overrides: dict[str, Any] = {
            "data_dir": work,
            "catalog": {"directory": str(CATALOGUE)},
            "security": {"key_passphrase": PASSPHRASE, "partners": {"explain": partner}},
            "log": {"level": "warning"},
        }
        if store_url is not None:
            overrides["store"] = {"url": store_url}
        settings = load_settings(environ={}, overrides=overrides)
        undo = [_wrap(ThreadedConnection, recorded), _wrap(PostgresConnection, recorded)]
        try:
            async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
                await _drive(client, RequestSigner(key, thumbprint(public)))
        finally:
            for step in undo:
                step()
        store = await open_store(settings)
        try:
            return await _plans(store, recorded)
        finally:
            await store.aclose()
            if database is not None:
                await postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def is_full_scan(line: str) -> bool:
    """True for a plan line that reads a whole table."""
    return (line.startswith("SCAN ") and " USING " not in line) or "Seq Scan" in line
