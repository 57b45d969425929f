"""Catalogue search: Chinese, pinyin, initials, codes, departments, filters, ranking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.catalog.catalog import Catalog
from gateway.catalog.loader import load_catalog
from gateway.catalog.models import HandlingMode, Item, TaskType
from gateway.catalog.search import Quality, SearchIndex

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOGS)


def names(hits: list[Any]) -> list[str]:
    return [hit.item.task_name for hit in hits]


def make(code: str, name: str, **fields: Any) -> Item:
    values: dict[str, Any] = {
        "code": code,
        "task_name": name,
        "competent_region": "shenzhen",
        "task_type": "public_service",
        "dept_name": "深圳市社会保险基金管理局",
        "handling_modes": ["full_online"],
        "channels": ["online"],
        "source": {"kind": "composed"},
    }
    return Item.model_validate(values | fields)


def test_chinese_substring(catalog: Catalog) -> None:
    hits = catalog.search_index.search("身份证")
    assert hits
    assert all("身份证" in name for name in names(hits))
    assert "居民身份证换领" in names(hits)


def test_pinyin_initials_find_id_card_items(catalog: Catalog) -> None:
    hits = catalog.search_index.search("sfz")
    assert "居民身份证补领" in names(hits)
    assert all("身份证" in name for name in names(hits))


def test_full_pinyin(catalog: Catalog) -> None:
    assert "居民身份证换领" in names(catalog.search_index.search("shenfenzheng"))
    assert "社会保障卡补领" in names(catalog.search_index.search("SheHui BaoZhang"))


def test_shebao_finds_social_insurance_items(catalog: Catalog) -> None:
    hits = catalog.search_index.search("shebao", region="shenzhen")
    assert "社会保障卡申领" in names(hits)
    assert "灵活就业人员社保费缴纳" in names(hits)
    assert "居民身份证换领" not in names(hits)


@pytest.mark.parametrize(("typed", "word"), [("sb", "社保"), ("shebao", "社保"), ("sfz", "身份证")])
def test_a_short_form_typed_in_pinyin_ranks_like_the_chinese_word(
    catalog: Catalog, typed: str, word: str
) -> None:
    """A clerk typing "sb" for 社保 sees the same items first as one typing 社保."""
    by_pinyin = [hit.item.code for hit in catalog.search_index.search(typed)]
    by_chinese = [hit.item.code for hit in catalog.search_index.search(word)]
    assert by_pinyin[:10] == by_chinese[:10]


def test_exact_code_and_official_code_fields(catalog: Catalog) -> None:
    (hit,) = catalog.search_index.search("SZ-C-0001")
    assert hit.item.code == "SZ-C-0001"
    assert hit.quality == Quality.CODE_EXACT
    (by_catalog_code,) = catalog.search_index.search("440125044001")
    assert by_catalog_code.item.task_name == "个体工商户设立登记"


def test_code_prefix(catalog: Catalog) -> None:
    hits = catalog.search_index.search("11440300MB2D")
    assert len(hits) == 3
    assert {hit.quality for hit in hits} == {Quality.CODE_PREFIX}
    assert len(catalog.search_index.search("zjg-p-00")) == 21


def test_letters_alone_are_not_a_code_prefix(catalog: Catalog) -> None:
    """ "sz" is pinyin initials, not every Shenzhen code."""
    assert all(hit.quality != Quality.CODE_PREFIX for hit in catalog.search_index.search("sz"))


def test_department(catalog: Catalog) -> None:
    hits = catalog.search_index.search("住房公积金管理中心", region="dongguan")
    assert hits
    assert all(hit.item.dept_name == "东莞市住房公积金管理中心" for hit in hits)
    filtered = catalog.search_index.search(department="出入境")
    assert filtered
    assert all("出入境" in hit.item.dept_name for hit in filtered)


def test_filters(catalog: Catalog) -> None:
    index = catalog.search_index
    hits = index.search(
        "", region="dongguan", mode=HandlingMode.PROXY, task_type=TaskType.CONFIRMATION
    )
    assert hits
    for hit in hits:
        assert hit.item.competent_region == "dongguan"
        assert HandlingMode.PROXY in hit.item.handling_modes
        assert hit.item.task_type is TaskType.CONFIRMATION
    frequent = index.search("", region="shenzhen", high_frequency=True)
    assert len(frequent) == 182
    assert len(index.search("", region="shenzhen", high_frequency=False)) == 120


def test_no_match(catalog: Catalog) -> None:
    assert catalog.search_index.search("不存在的事项名称") == []
    assert catalog.search_index.search("zzzzqqq") == []


def test_exact_code_ranks_above_high_frequency_name_matches() -> None:
    index = SearchIndex(
        [
            make("A-1", "社保卡补领", high_frequency=True),
            make("社保卡", "单位参保登记"),  # a code that happens to equal the query
        ]
    )
    assert [hit.item.code for hit in index.search("社保卡")] == ["社保卡", "A-1"]


def test_high_frequency_ranks_above_match_quality() -> None:
    index = SearchIndex(
        [
            make("A-1", "失业登记"),
            make("A-2", "灵活就业人员失业登记补办", high_frequency=True),
        ]
    )
    assert [hit.item.code for hit in index.search("失业登记")] == ["A-2", "A-1"]


def test_match_quality_orders_items_of_equal_frequency() -> None:
    index = SearchIndex(
        [
            make("A-3", "灵活就业人员失业登记"),
            make("A-2", "失业登记证明开具"),
            make("A-1", "失业登记"),
        ]
    )
    hits = index.search("失业登记")
    assert [hit.item.code for hit in hits] == ["A-1", "A-2", "A-3"]
    assert [hit.quality for hit in hits] == [
        Quality.NAME_EXACT,
        Quality.NAME_PREFIX,
        Quality.NAME_WORD,
    ]


def test_empty_query_lists_high_frequency_first(catalog: Catalog) -> None:
    hits = catalog.search_index.search("", region="shenzhen")
    assert len(hits) == 302
    flags = [hit.item.high_frequency for hit in hits]
    assert flags == sorted(flags, reverse=True)


# Ranking as clerks type: the item's own name before its department, whole words
# before fragments. Each case is a query typed at the window.

SOCIAL_INSURANCE = ("社保", "社会保险", "社会保障")


def rank_of(hits: list[Any], name: str) -> int:
    """The best position of an item called `name` in `hits`."""
    return names(hits).index(name)


@pytest.mark.parametrize("query", ["社保", "shebao", "sb"])
def test_social_insurance_items_rank_above_matches_through_the_department(
    catalog: Catalog, query: str
) -> None:
    """失业登记 and 就业登记 match only through 人力资源和社会保障局: below every 社保 item."""
    hits = catalog.search_index.search(query)
    social = [i for i, name in enumerate(names(hits)) if any(w in name for w in SOCIAL_INSURANCE)]
    assert len(social) >= 20
    for department_only in ("失业登记", "就业登记"):
        assert rank_of(hits, department_only) > max(social), names(hits)[: max(social) + 1]
    first_department = next(i for i, hit in enumerate(hits) if hit.quality == Quality.DEPARTMENT)
    assert first_department > max(social)


def test_sfz_ranks_the_id_card_above_the_tax_residency_certificate(catalog: Catalog) -> None:
    """sfz is 身份证 in 居民身份证有效期满换领, but 身份|证明 in 税收居民身份证明开具."""
    hits = catalog.search_index.search("sfz")
    tax = rank_of(hits, "税收居民身份证明开具")
    assert rank_of(hits, "居民身份证有效期满换领") < tax
    id_cards = [
        i for i, name in enumerate(names(hits)) if "居民身份证" in name and "税收" not in name
    ]
    assert max(id_cards) < tax


def test_sb_ranks_whole_words_above_initials_across_words(catalog: Catalog) -> None:
    """申报 and 社保 are sb; 证书补发 (书|补) and 工伤保险 (伤|保) only cut across words."""
    hits = catalog.search_index.search("sb")
    whole = max(
        rank_of(hits, name) for name in ("契税申报", "社会保障卡申领", "灵活就业人员社保费缴纳")
    )
    assert whole < rank_of(hits, "不动产权证书补发")
    assert whole < rank_of(hits, "工伤保险待遇申领")
    assert hits[rank_of(hits, "不动产权证书补发")].quality == Quality.PINYIN_SCATTERED


def test_business_licence_by_name_and_by_initials(catalog: Catalog) -> None:
    by_name = catalog.search_index.search("营业执照")
    assert by_name
    assert all(name.startswith("营业执照") for name in names(by_name))
    by_initials = catalog.search_index.search("yyzz")
    assert [hit.item.code for hit in by_initials] == [hit.item.code for hit in by_name]


def test_an_item_code_as_typed_comes_first(catalog: Catalog) -> None:
    (first, *_) = catalog.search_index.search("dg-c-0001")
    assert first.item.code == "DG-C-0001"
    assert first.quality == Quality.CODE_EXACT


def test_a_name_match_ranks_above_a_frequent_department_match() -> None:
    index = SearchIndex(
        [
            make("A-1", "失业登记", dept_name="深圳市人力资源和社会保障局", high_frequency=True),
            make("A-2", "社会保障卡补领", dept_name="深圳市某中心"),
        ]
    )
    hits = index.search("shebao")
    assert [hit.item.code for hit in hits] == ["A-2", "A-1"]
    assert [hit.quality for hit in hits] == [Quality.ALIAS, Quality.DEPARTMENT]


def test_whole_word_initials_rank_above_frequent_ones_across_words() -> None:
    index = SearchIndex(
        [
            make("A-1", "税收居民身份证明开具", dept_name="税务局", high_frequency=True),
            make("A-2", "居民身份证有效期满换领", dept_name="公安局"),
        ]
    )
    hits = index.search("sfz")
    assert [hit.item.code for hit in hits] == ["A-2", "A-1"]
    # sfz spells 身份证: a whole word of A-2's name, cut across 身份|证明 in A-1's.
    assert [hit.quality for hit in hits] == [Quality.NAME_WORD, Quality.NAME_SUBSTRING]
