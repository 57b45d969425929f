"""The window clerk's workspace in a real browser (Chromium, headless), end to end."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Page, expect
from support.console import EXAMPLE_FILES, PASSWORD, VALID_ID, ConsoleWorld, Shot

from gateway.app_keys import STORE
from gateway.security.receipts import verify_receipt

pytestmark = [pytest.mark.e2e, pytest.mark.whole_system]

WAIT_MS = 20_000


async def sign_in(page: Page, world: ConsoleWorld, account: str, password: str = PASSWORD) -> None:
    await page.goto(f"{world.url}/console/")
    await page.fill("#account", account)
    await page.fill("#password", password)
    await page.press("#password", "Enter")  # Enter submits


async def search(page: Page, words: str) -> str:
    """Type into the search box (focused with `/`), press Enter; the first result's name."""
    await page.keyboard.press("/")
    await page.keyboard.press("Control+A")
    await page.keyboard.type(words)
    await page.keyboard.press("Enter")
    first = page.locator("#results li .result-name").first
    await expect(first).to_be_visible()
    return await first.inner_text()


async def test_clerk_finds_an_item_by_what_the_applicant_says_and_opens_a_shenzhen_item(
    page: Page, world: ConsoleWorld, shot: Shot
) -> None:
    await sign_in(page, world, "clerk")
    await expect(page).to_have_url(f"{world.url}/console/search")
    await expect(page.locator("#q")).to_be_focused()
    by_chinese = await search(page, "社保")
    await shot(page, "search-shebao")
    by_initials = await search(page, "sb")
    assert by_initials == by_chinese
    await page.locator("#results li", has_text="深圳市").first.locator(".result-name").click()
    await expect(page.locator("#competent-region")).to_contain_text("深圳市")
    await expect(page.locator("#competent-region")).to_contain_text("异地事项")
    await expect(page.get_by_text("东莞市（本中心）")).to_be_visible()
    await shot(page, "item-shenzhen")


async def test_clerk_takes_an_application_with_a_deferred_material_and_follows_it_live(
    page: Page, world: ConsoleWorld, shot: Shot
) -> None:
    await sign_in(page, world, "clerk")
    await page.goto(f"{world.url}/console/items/SZ-C-0001")
    await page.click("#start-apply")
    await page.fill("#applicant_name", "王小明")
    await page.fill("#applicant_id_number", VALID_ID[:-1] + "1")  # a wrong check digit
    await expect(page.locator("#applicant_id_number-live")).to_have_text(
        "居民身份证号码校验位不正确，请核对是否抄错"
    )
    await page.fill("#applicant_id_number", VALID_ID)
    await expect(page.locator("#applicant_id_number-live")).to_have_text("号码校验通过")
    await page.fill("#phone", "13812345678")
    await page.set_input_files("#file_application_form", EXAMPLE_FILES / "resolution.pdf")
    await page.set_input_files("#file_id_card", EXAMPLE_FILES / "id_card.pdf")
    await page.check("#attest_id_card")
    await page.check("#deferred_hukou")  # 容缺: the household register comes later
    await page.set_input_files("#file_photo", EXAMPLE_FILES / "photo.jpg")
    await page.check("input[name=delivery_method][value=mail]")
    await page.fill("#delivery_address", "广东省东莞市松山湖大道1号")
    await shot(page, "apply-filled")
    world.sandboxes["shenzhen"].down_until = float("inf")  # held until the case page is open
    await page.dblclick("#submit")  # an impatient double click
    await expect(page.locator("#application-number")).to_be_visible()
    application_id = (await page.locator("#application-number").inner_text()).strip()
    await expect(page.locator("#deferred")).to_contain_text("户口簿")
    await shot(page, "receipt")
    async with world.server.app[STORE].transaction() as conn:
        rows = await conn.fetch_all("SELECT id, submitted_by FROM applications")
    assert rows == [{"id": application_id, "submitted_by": "staff:clerk"}]

    receipt = json.loads(
        await (
            await page.request.get(f"{world.url}/console/cases/{application_id}/receipt.json")
        ).text()
    )
    jwks = await (await page.request.get(f"{world.url}/.well-known/tongban/keys")).json()
    assert verify_receipt(receipt, jwks)["receipt_no"] == application_id
    await page.emulate_media(media="print")
    await shot(page, "receipt-print")
    await page.emulate_media(media="screen")

    await page.goto(f"{world.url}/console/cases/{application_id}")
    await page.evaluate("window.__sameDocument = true")
    tag = page.locator("#status-tag")
    await expect(tag).to_have_text("收件")
    world.sandboxes["shenzhen"].down_until = 0.0  # the region comes back
    await expect(tag).to_have_text("已转发", timeout=WAIT_MS)
    await expect(tag).to_have_text("补正", timeout=WAIT_MS)  # the sandbox asks for 户口簿
    await expect(page.locator("#timeline")).to_contain_text("材料不全，请补正")
    assert await page.evaluate("window.__sameDocument === true")  # never reloaded
    await shot(page, "case-live")
    await page.click("text=← 办件列表")
    row = page.locator("#cases tbody tr").first
    await expect(row).to_contain_text("居民身份证换领")
    await expect(row).to_contain_text("王**")  # masked in lists
    await shot(page, "case-list")


async def test_five_wrong_passwords_lock_the_account_with_a_clear_message(
    page: Page, world: ConsoleWorld, shot: Shot
) -> None:
    for _ in range(5):
        await sign_in(page, world, "clerk", "wrong-password")
    message = page.locator("#login-message")
    await expect(message).to_contain_text("密码连续输错 5 次，账号已锁定")
    await sign_in(page, world, "clerk")  # the right password no longer opens it
    await expect(message).to_contain_text("账号已锁定")
    await expect(page).to_have_title("错误：登录 · 通办网关窗口工作台")
    await shot(page, "locked")
