"""``tongban users add|passwd|disable|list``: staff accounts for the console."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

# The region table alone: `users add` checks a region key without loading every item.
from gateway.catalog.loader import _load_regions
from gateway.cli_support import config_option, settings_or_fail, with_store
from gateway.staff import accounts
from gateway.staff.accounts import Account, Role
from gateway.store import Store

_password_option = click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for (hidden, twice) when not given.",
)


@click.group("users")
def users() -> None:
    """Staff accounts for the web console (/console/)."""


@users.command("add")
@config_option
@click.argument("account_id")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.STAFF.value,
    show_default=True,
)
@click.option("--region", required=True, help="The centre's region key (its receiving region).")
@click.option("--centre", required=True, help="The service centre's name, e.g. 松山湖政务服务中心.")
@click.option("--name", "display_name", help="The person's name as the console shows it.")
@_password_option
def add_command(
    config: Path | None,
    account_id: str,
    role: str,
    region: str,
    centre: str,
    display_name: str | None,
    password: str,
) -> None:
    """Create a staff account ACCOUNT_ID (the login name)."""
    settings = settings_or_fail(config)
    regions, _ = _load_regions(settings.catalog.location / "regions.toml")
    known = [r.key for r in regions]
    if region not in known:
        raise click.ClickException(f"不认识的地区 {region}；可选：{'、'.join(known)}")

    async def work(store: Store) -> Account:
        return await accounts.add(
            store,
            account_id,
            password=password,
            role=Role(role),
            centre_region=region,
            centre_name=centre,
            display_name=display_name,
            now=datetime.now(UTC),
        )

    account = with_store(settings, work)
    click.echo(f"已创建账号 {account.id}（{account.role.label_zh}，{account.centre_name}）")


@users.command("passwd")
@config_option
@click.argument("account_id")
@_password_option
def passwd_command(config: Path | None, account_id: str, password: str) -> None:
    """Set a new password (also unlocks the account and ends its sessions)."""
    settings = settings_or_fail(config)

    async def work(store: Store) -> None:
        await accounts.set_password(store, account_id, password, now=datetime.now(UTC))

    with_store(settings, work)
    click.echo(f"已为 {account_id} 设置新密码，账号已解锁")


@users.command("disable")
@config_option
@click.argument("account_id")
def disable_command(config: Path | None, account_id: str) -> None:
    """Disable an account; its open console sessions stop working at once."""
    settings = settings_or_fail(config)

    async def work(store: Store) -> None:
        await accounts.disable(store, account_id, now=datetime.now(UTC))

    with_store(settings, work)
    click.echo(f"已停用账号 {account_id}")


@users.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
def list_command(config: Path | None, as_json: bool) -> None:
    """Every staff account, with role, centre and state (never a password hash)."""
    settings = settings_or_fail(config)
    found = with_store(settings, accounts.list_all)
    if as_json:
        click.echo(json.dumps([a.as_json() for a in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("还没有员工账号（tongban users add ...）")
        return
    now = datetime.now(UTC)
    for account in found:
        state = "已停用" if account.disabled else "正常"
        if not account.disabled and account.locked_until and account.locked_until > now:
            state = "已锁定"
        click.echo(
            f"{account.id:<16} {account.role.label_zh:<5} {account.centre_region:<13} "
            f"{account.centre_name}  {account.display_name}  {state}"
        )
