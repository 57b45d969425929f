"""After intake, in a real browser: following a case to its result and handing it over,
the applicant's rating and the supervisor's follow-up, ops replaying a dead letter."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect
from support.console import EXAMPLE_FILES, PASSWORD, VALID_ID, ConsoleWorld, Shot

from gateway.app_keys import STORE

pytestmark = [pytest.mark.e2e, pytest.mark.whole_system]

WAIT_MS = 30_000


async def sign_in(page: Page, world: ConsoleWorld, account: str) -> None:
    await page.goto(f"{world.url}/console/login")
    await page.fill("#account", account)
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await expect(page.locator(".who")).to_be_visible()


async def sign_out(page: Page) -> None:
    await page.click("text=退出")
    await expect(page.locator("#account")).to_be_visible()


async def take_application(page: Page, world: ConsoleWorld) -> str:
    """The clerk takes a complete 居民身份证换领 (Shenzhen) for window pickup; its id."""
    await page.goto(f"{world.url}/console/items/SZ-C-0001/apply")
    await page.fill("#applicant_name", "王小明")
    await page.fill("#applicant_id_number", VALID_ID)
    await page.fill("#phone", "13812345678")
    await page.set_input_files("#file_application_form", EXAMPLE_FILES / "resolution.pdf")
    await page.set_input_files("#file_id_card", EXAMPLE_FILES / "id_card.pdf")
    await page.check("#attest_id_card")
    await page.set_input_files("#file_hukou", EXAMPLE_FILES / "id_card.pdf")
    await page.check("#attest_hukou")
    await page.set_input_files("#file_photo", EXAMPLE_FILES / "photo.jpg")
    await page.click("#submit")
    await expect(page.locator("#application-number")).to_be_visible()
    return (await page.locator("#application-number").inner_text()).strip()


async def follow_to_the_decision(page: Page, world: ConsoleWorld, application_id: str) -> None:
    """Open the case page and watch it, without reloading, until the region decides."""
    await page.goto(f"{world.url}/console/cases/{application_id}")
    await page.evaluate("window.__sameDocument = true")
    await expect(page.locator("#timeline")).to_contain_text("状态变为“已转发”", timeout=WAIT_MS)
    await expect(page.locator("#status-tag")).to_have_text("准予", timeout=WAIT_MS)
    await expect(page.locator("#timeline")).to_contain_text("准予许可")  # the region's words
    assert await page.evaluate("window.__sameDocument === true")  # never reloaded


async def test_clerk_follows_a_case_to_its_result_records_the_post_and_hands_it_over(
    page: Page, world: ConsoleWorld, shot: Shot
) -> None:
    await sign_in(page, world, "clerk")
    application_id = await take_application(page, world)
    await page.goto(f"{world.url}/console/cases/{application_id}")
    hand_over = page.locator("#hand-over")
    await expect(hand_over).to_be_hidden()  # nothing to hand over before a decision
    await follow_to_the_decision(page, world, application_id)
    await expect(hand_over).to_be_visible()  # shown as the decision arrived, no reload

    await page.select_option("#leg", "materials")
    await page.fill("#carrier", "EMS")
    await page.fill("#number", "ep123456789cn")
    await page.press("#number", "Enter")
    await expect(page.locator("#done")).to_have_text("运单号已登记。")
    await expect(page.locator("#tracking-list")).to_contain_text("EP123456789CN")
    await expect(page.locator("#tracking-list")).to_contain_text("材料寄往业务属地")

    await hand_over.click()
    await expect(page.locator("#done")).to_contain_text("已登记送达")
    await expect(page.locator("#status-tag")).to_have_text("已送达")
    await expect(page.locator("#timeline")).to_contain_text("工作人员 clerk")
    await shot(page, "case-handed-over")
    async with world.server.app[STORE].transaction() as conn:
        actors = await conn.fetch_all(
            "SELECT kind, actor FROM audit_entries WHERE application_id = :id "
            "AND actor = 'staff:clerk' ORDER BY seq",
            {"id": application_id},
        )
    assert [row["kind"] for row in actors] == [
        "application.received",
        "application.tracking_recorded",
        "application.status_changed",
    ]


async def test_applicant_rates_unsatisfied_with_a_reason_and_the_supervisor_closes_it(
    page: Page, world: ConsoleWorld, shot: Shot
) -> None:
    await sign_in(page, world, "clerk")
    application_id = await take_application(page, world)
    await follow_to_the_decision(page, world, application_id)
    await page.click("#hand-over")
    await page.click("#open-rating-pad")

    # The applicant at the window, on the pad.
    await expect(page.get_by_text("请您对本次服务进行评价")).to_be_visible()
    await page.click("label.level-2")  # 不满意
    await page.check("input[name=service_attitude][value='2']")
    await page.click("#submit-rating")
    await expect(page.locator("#comment-error")).to_contain_text("请告诉我们原因")
    await expect(page.locator("#level-2")).to_be_checked()  # the choice is kept
    await page.fill("#comment", "排队等了四十分钟，窗口中途离开")
    await shot(page, "rating-pad")
    await page.click("#submit-rating")
    await expect(page.locator("#pad-thanks")).to_have_text("感谢您的评价！")
    await expect(page.get_by_text("中心将尽快回访并整改")).to_be_visible()
    await expect(page.locator("nav")).to_have_count(0)  # the applicant saw no staff menu

    await page.click("text=返回办件（工作人员）")  # the clerk takes the screen back
    await expect(page.locator("#timeline")).to_contain_text("申请人评价：不满意")
    await sign_out(page)
    await sign_in(page, world, "boss")
    await page.click("text=督办与统计")
    followup = page.locator(f"#followup-{application_id}")
    await expect(followup).to_contain_text("不满意")
    await expect(followup).to_contain_text("居民身份证换领")
    await shot(page, "supervisor-queue")
    await followup.locator("textarea").fill("已电话回访申请人致歉；调整午间窗口排班，不再空岗")
    await followup.locator("button").click()
    await expect(page.get_by_text("回访已办结，处理情况已记录。")).to_be_visible()
    await expect(page.locator(f"#followup-{application_id}")).to_have_count(0)
    await expect(page.locator("#closed-followups")).to_contain_text("不再空岗")
    await page.click("text=查看本中心统计")
    await expect(page.locator("#taken")).to_have_text("1 件")
    await expect(page.locator("#satisfaction")).to_contain_text("0.0%（0/1 条评价）")
    await shot(page, "supervisor-measures")


@pytest.mark.parametrize("world", [{"retry_max_attempts": 2}], indirect=True)
async def test_ops_replays_a_dead_letter_and_a_clerk_is_refused_ops_and_supervisor_pages(
    page: Page, world: ConsoleWorld, shot: Shot
) -> None:
    world.sandboxes["shenzhen"].down_until = float("inf")  # 对方系统维护
    await sign_in(page, world, "clerk")
    application_id = await take_application(page, world)
    await page.goto(f"{world.url}/console/cases/{application_id}")
    await expect(page.locator("#status-tag")).to_have_text("转发失败", timeout=WAIT_MS)
    for path in ("/console/ops", "/console/supervisor"):
        response = await page.goto(f"{world.url}{path}")
        assert response is not None
        assert response.status == 403
        await expect(page.locator("h1")).to_have_text("无权进行此操作")
    await expect(page).to_have_title(re.compile("^错误：无权进行此操作"))
    await shot(page, "clerk-refused")
    await sign_out(page)

    await sign_in(page, world, "opsuser")
    await page.click("nav >> text=运维")
    row = page.locator("#dead-letters tbody tr", has_text=application_id)
    await expect(row).to_contain_text("对方系统维护或暂不可用，多次重试未成功")
    await expect(row).to_contain_text("深圳市")
    await expect(page.locator("#regions")).to_contain_text("深圳市")
    await expect(page.locator("#checkpoint")).to_contain_text("检查点")
    await shot(page, "ops-dead-letter")
    world.sandboxes["shenzhen"].down_until = 0.0  # maintenance over
    await row.locator("button.replay").click()
    await expect(page.locator("#replayed")).to_contain_text("已重新排队转发")
    await page.goto(f"{world.url}/console/cases/{application_id}")
    await expect(page.locator("#timeline")).to_contain_text("转发失败的申请已重新排队转发")
    await expect(page.locator("#timeline")).to_contain_text("状态变为“已转发”", timeout=WAIT_MS)
    await expect(page.locator("#timeline")).to_contain_text("工作人员 opsuser")
