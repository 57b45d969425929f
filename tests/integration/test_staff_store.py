"""Staff accounts and sessions on both stores: lockout, idle expiry, disable, new password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.config import ConsoleSettings
from gateway.staff import accounts, sessions
from gateway.staff.accounts import AccountError, Role
from gateway.store import Store, bundled_migrations, migrate

RIGHT = "right-password"
OTHER = "another-password"
LONG = "long-enough"
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
RULES = ConsoleSettings(max_failed_logins=3, lockout_minutes=10)
IDLE = timedelta(minutes=30)


@pytest.fixture
async def staff_store(store: Store) -> Store:
    await migrate(store, bundled_migrations(store.backend))
    await accounts.add(
        store,
        "clerk",
        password=RIGHT,
        role=Role.STAFF,
        centre_region="dongguan",
        centre_name="松山湖政务服务中心",
        display_name="陈窗口",
        now=NOW,
    )
    return store


async def test_the_right_password_signs_in_and_a_wrong_one_does_not(staff_store: Store) -> None:
    signed = await accounts.authenticate(staff_store, "clerk", RIGHT, now=NOW, rules=RULES)
    assert signed.account is not None
    assert signed.account.actor == "staff:clerk"
    assert signed.account.centre_region == "dongguan"
    wrong = await accounts.authenticate(staff_store, "clerk", "nope", now=NOW, rules=RULES)
    assert (wrong.account, wrong.refusal) == (None, "wrong")
    unknown = await accounts.authenticate(staff_store, "ghost", "nope", now=NOW, rules=RULES)
    assert (unknown.account, unknown.refusal) == (None, "wrong")


async def test_repeated_failures_lock_until_the_lock_lapses_or_a_new_password(
    staff_store: Store,
) -> None:
    for _ in range(RULES.max_failed_logins):
        result = await accounts.authenticate(staff_store, "clerk", "nope", now=NOW, rules=RULES)
    assert result.refusal == "locked"
    assert result.locked_until == NOW + timedelta(minutes=10)
    still = await accounts.authenticate(
        staff_store, "clerk", RIGHT, now=NOW + timedelta(minutes=9), rules=RULES
    )
    assert still.refusal == "locked"
    later = await accounts.authenticate(
        staff_store, "clerk", RIGHT, now=NOW + timedelta(minutes=11), rules=RULES
    )
    assert later.account is not None
    for _ in range(RULES.max_failed_logins):
        await accounts.authenticate(staff_store, "clerk", "nope", now=NOW, rules=RULES)
    await accounts.set_password(staff_store, "clerk", OTHER, now=NOW)
    reset = await accounts.authenticate(staff_store, "clerk", OTHER, now=NOW, rules=RULES)
    assert reset.account is not None


async def test_a_session_lives_while_used_and_ends_when_idle(staff_store: Store) -> None:
    signed = await accounts.authenticate(staff_store, "clerk", RIGHT, now=NOW, rules=RULES)
    assert signed.account is not None
    token = await sessions.open_session(staff_store, signed.account, now=NOW)
    found = await sessions.find(staff_store, token, now=NOW + timedelta(minutes=20), idle=IDLE)
    assert found is not None
    assert found.account.id == "clerk"
    # Used at +20 min, so still alive at +45; then idle for more than 30 minutes.
    assert await sessions.find(staff_store, token, now=NOW + timedelta(minutes=45), idle=IDLE)
    assert (
        await sessions.find(staff_store, token, now=NOW + timedelta(minutes=80), idle=IDLE) is None
    )
    assert await sessions.find(staff_store, token, now=NOW, idle=IDLE) is None  # deleted
    assert await sessions.find(staff_store, "forged", now=NOW, idle=IDLE) is None


async def test_disabling_or_a_new_password_ends_open_sessions(staff_store: Store) -> None:
    signed = await accounts.authenticate(staff_store, "clerk", RIGHT, now=NOW, rules=RULES)
    assert signed.account is not None
    token = await sessions.open_session(staff_store, signed.account, now=NOW)
    await accounts.set_password(staff_store, "clerk", OTHER, now=NOW)
    assert await sessions.find(staff_store, token, now=NOW, idle=IDLE) is None
    token = await sessions.open_session(staff_store, signed.account, now=NOW)
    await accounts.disable(staff_store, "clerk", now=NOW)
    assert await sessions.find(staff_store, token, now=NOW, idle=IDLE) is None
    refused = await accounts.authenticate(staff_store, "clerk", OTHER, now=NOW, rules=RULES)
    assert refused.refusal == "disabled"


async def test_bad_accounts_are_refused_with_a_clear_message(staff_store: Store) -> None:
    with pytest.raises(AccountError, match="已存在"):
        await accounts.add(
            staff_store, "clerk", password=LONG, role=Role.STAFF,
            centre_region="dongguan", centre_name="x", display_name=None, now=NOW,
        )  # fmt: skip
    with pytest.raises(AccountError, match="至少需要 8 个字符"):
        await accounts.add(
            staff_store, "newbie", password=LONG[:5], role=Role.STAFF,
            centre_region="dongguan", centre_name="x", display_name=None, now=NOW,
        )  # fmt: skip
    with pytest.raises(AccountError, match="小写字母开头"):
        await accounts.add(
            staff_store, "Bad Name", password=LONG, role=Role.STAFF,
            centre_region="dongguan", centre_name="x", display_name=None, now=NOW,
        )  # fmt: skip


def test_users_cli_adds_lists_disables_and_never_prints_a_hash(tmp_path: object) -> None:
    runner = CliRunner()
    env = {"TONGBAN_DATA_DIR": str(tmp_path)}
    added = runner.invoke(
        main,
        ["users", "add", "wang", "--role", "supervisor", "--region", "dongguan",
         "--centre", "松山湖政务服务中心", "--name", "王主管", "--password", "long-enough"],
        env=env,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "已创建账号 wang（主管，松山湖政务服务中心）" in added.output
    unknown = runner.invoke(
        main,
        ["users", "add", "li", "--region", "mars", "--centre", "x", "--password", "long-enough"],
        env=env,
    )
    assert unknown.exit_code == 1
    assert "不认识的地区 mars" in unknown.output
    assert runner.invoke(main, ["users", "disable", "wang"], env=env).exit_code == 0
    listed = runner.invoke(main, ["users", "list", "--json"], env=env)
    assert listed.exit_code == 0
    assert '"disabled": true' in listed.output
    assert "argon2" not in listed.output
    missing = runner.invoke(
        main, ["users", "passwd", "ghost", "--password", "long-enough"], env=env
    )
    assert missing.exit_code == 1
    assert "没有账号 ghost" in missing.output
