"""The PostgreSQL store without a server: ``:name`` to ``$n``, status counts, refusal."""

from __future__ import annotations

import pytest
from support.loopback import free_port

from gateway.config import load_settings
from gateway.errors import StoreError, StoreUnavailable
from gateway.store import open_store
from gateway.store.postgres import PostgresStore, _bind, _rowcount, rewrite_params


def test_names_become_numbers_in_order_of_first_use() -> None:
    sql, names = rewrite_params("INSERT INTO t (a, b, c) VALUES (:b, :a, :b)")
    assert sql == "INSERT INTO t (a, b, c) VALUES ($1, $2, $1)"
    assert names == ("b", "a")


def test_casts_are_not_parameters() -> None:
    sql, names = rewrite_params("SELECT :v::text, x::int FROM t WHERE y = :y::bigint")
    assert sql == "SELECT $1::text, x::int FROM t WHERE y = $2::bigint"
    assert names == ("v", "y")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ':x' AS lit",
        "SELECT 'it''s :x' AS lit",
        r"SELECT E'a\' :x' AS lit",
        'SELECT 1 AS ":x"',
        "SELECT 1 -- :x\n",
        "SELECT 1 /* :x\n :y */",
        "SELECT $$ :x $$",
        "SELECT $body$ it's :x $body$",
    ],
)
def test_text_in_literals_comments_and_quotes_is_left_alone(sql: str) -> None:
    assert rewrite_params(sql) == (sql, ())


def test_parameters_around_literals_are_still_found() -> None:
    sql, names = rewrite_params("SELECT 'a:b', :x, $q$:y$q$, :z -- :w")
    assert sql == "SELECT 'a:b', $1, $q$:y$q$, $2 -- :w"
    assert names == ("x", "z")


def test_the_rewrite_is_cached_per_sql_text() -> None:
    sql = "SELECT :cached_once"
    assert rewrite_params(sql) is rewrite_params(sql)


def test_bind_orders_values_and_ignores_extra_ones() -> None:
    assert _bind("SELECT :b, :a, :b", {"a": 1, "b": 2, "unused": 3}) == (
        "SELECT $1, $2, $1",
        [2, 1],
    )


def test_bind_names_missing_values() -> None:
    with pytest.raises(StoreError, match=":a, :c"):
        _bind("SELECT :a, :b, :c", {"b": 1})


@pytest.mark.parametrize(
    ("status", "count"),
    [
        ("INSERT 0 3", 3),
        ("UPDATE 2", 2),
        ("DELETE 0", 0),
        ("MERGE 4", 4),
        ("SELECT 5", 0),
        ("CREATE TABLE", 0),
        ("", 0),
    ],
)
def test_rowcount_from_command_status(status: str, count: int) -> None:
    assert _rowcount(status) == count


async def test_unreachable_server_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        await PostgresStore.open(
            f"postgresql://postgres@127.0.0.1:{free_port()}/none", connect_timeout_s=2
        )


async def test_an_unreachable_store_names_store_url_without_its_password() -> None:
    """What an operator reads must say which setting to fix, not only "Connect call failed"."""
    port = free_port()
    url = f"postgresql://postgres:hunter2@127.0.0.1:{port}/none?password=hunter2"
    overrides = {"store": {"url": url, "connect_timeout_s": 2}}
    with pytest.raises(StoreUnavailable) as caught:
        await open_store(load_settings(environ={}, overrides=overrides))
    message = str(caught.value)
    assert f"store.url = postgresql://postgres@127.0.0.1:{port}/none" in message
    assert "hunter2" not in message
