"""Catalogue search as window staff type it: Chinese, pinyin, initials, codes.

`SearchIndex` is built once per catalogue (at load) and answers queries from
precomputed, lower-cased strings: for each item its name, the pinyin of its name
in full (``shehuibaozhangkashenling``) and as initials (``shbzksl``), its
department, and the short forms staff say for long official words (社保 for
社会保险/社会保障, 公积金, 医保...), so ``shebao`` finds 社保 items. A query is
matched as a code (exact or prefix on code, task_code, catalog_code,
local_task_code; case, spaces and dashes ignored), as Chinese text, and as pinyin.

Ranking, best first: an exact code match; then matches in the item itself (code
prefix, name, the name's pinyin or initials as whole words, a short form of a word
of the name); then text or pinyin that cuts across the name's words (身份证 or
``sfz`` in 税收居民身份证明开具); then matches in the department only (``shebao``
for 失业登记, whose department is 人力资源和社会保障局). Within each, high-frequency
items first, then match quality (`Quality`), then shorter names, then code.

A short form typed in pinyin (``sb`` or ``shebao`` for 社保) means the Chinese word:
its items rank exactly as for 社保, and other pinyin matches (``sb`` in 契税申报)
come after them as scattered pinyin.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.catalog.models import HandlingMode, Item, TaskType
from gateway.catalog.words import Syllables, Words, cuts_a_word, word_spans

# Short forms people use for long words in item and department names.
ALIASES: dict[str, tuple[str, ...]] = {
    "社会保险": ("社保",),
    "社会保障": ("社保",),
    "人力资源和社会保障": ("人社", "社保"),
    "医疗保障": ("医保",),
    "医疗保险": ("医保",),
    "住房公积金": ("公积金",),
    "居民身份证": ("身份证",),
    "交通警察": ("交警",),
    "出入境": ("出入境",),
    "市场监督管理": ("市监", "工商"),
    "不动产": ("房产",),
    "机动车驾驶证": ("驾驶证", "驾照"),
}

_NOT_WORD = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")


class Quality:
    """Match quality; lower is better."""

    CODE_EXACT = 0
    CODE_PREFIX = 1
    NAME_EXACT = 2
    NAME_PREFIX = 3
    NAME_WORD = 4  # the query's characters are whole words of the name
    NAME_SUBSTRING = 5  # ...or cut one of its words
    PINYIN_PREFIX = 6  # the name's pinyin or initials start with the query
    PINYIN_WORD = 7  # pinyin or initials of whole words of the name
    ALIAS = 8  # a short form of a word of the name (社保 for 社会保障卡申领)
    PINYIN_SCATTERED = 9  # pinyin or initials that cut a word (sfz in 身份证明)
    DEPARTMENT = 10  # only the department matched: its name or a short form of it
    ALL = 11  # empty query: every item that passes the filters


def _tier(quality: int) -> int:
    """Rank groups: exact code, the item itself, a match that cuts the name's words
    (身份证 in 税收居民身份证明, typed or spelled), the department only."""
    if quality == Quality.CODE_EXACT:
        return 0
    if quality in (Quality.NAME_SUBSTRING, Quality.PINYIN_SCATTERED):
        return 2
    if quality == Quality.DEPARTMENT:
        return 3
    return 1


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the item and how well it matched (`Quality`)."""

    item: Item
    quality: int


@dataclass(frozen=True, slots=True)
class _Entry:
    item: Item
    codes: tuple[str, ...]
    name: str
    raw_name: str  # lower-cased, punctuation kept: positions match `words`
    words: Words
    syllables: Syllables
    pinyin: str  # = syllables.full and .initials, one attribute away for the hot loop
    initials: str
    aliases: str
    alias_pinyin: str
    department: str
    department_aliases: str


def normalise(text: str) -> str:
    """Lower-case `text` and drop spaces and punctuation (full- and half-width)."""
    return _NOT_WORD.sub("", text.lower())


def _aliases(text: str, words: Words) -> list[str]:
    """The short forms of `text`'s long words, and those it already uses (社保费 → 社保).

    Only where the word stands whole: 税收居民身份证明 holds the characters of 居民身份证
    but reads 身份|证明, so it gets no 身份证.
    """
    found = set()
    for long, shorts in ALIASES.items():
        for short in shorts:
            if _whole(text, words, long) or _whole(text, words, short):
                found.add(short)
    return sorted(found)


def _whole(text: str, words: Words, word: str) -> bool:
    start = text.find(word)
    while start != -1:
        if not cuts_a_word(words, start, start + len(word)):
            return True
        start = text.find(word, start + 1)
    return False


def _alias_pinyin(aliases: list[str]) -> str:
    spelled = (Syllables.of(alias) for alias in aliases)
    return " ".join(part for s in spelled for part in (s.full, s.initials))


class SearchIndex:
    """Precomputed search strings for every item of a catalogue."""

    def __init__(self, items: Iterable[Item]) -> None:
        entries = []
        for item in items:
            words = word_spans(item.task_name)
            syllables = Syllables.of(item.task_name)
            aliases = _aliases(item.task_name, words)
            department = _aliases(item.dept_name, word_spans(item.dept_name))
            department_aliases = [a for a in department if a not in aliases]
            codes = tuple(
                normalise(code)
                for code in (item.code, item.task_code, item.catalog_code, item.local_task_code)
                if code
            )
            entries.append(
                _Entry(
                    item=item,
                    codes=codes,
                    name=normalise(item.task_name),
                    raw_name=item.task_name.lower(),
                    words=words,
                    syllables=syllables,
                    pinyin=syllables.full,
                    initials=syllables.initials,
                    aliases=" ".join(aliases),
                    alias_pinyin=_alias_pinyin(aliases),
                    department=normalise(item.dept_name),
                    department_aliases=" ".join(
                        [*department_aliases, _alias_pinyin(department_aliases)]
                    ),
                )
            )
        self._entries: tuple[_Entry, ...] = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def search(
        self,
        query: str = "",
        *,
        region: str | None = None,
        department: str | None = None,
        mode: HandlingMode | None = None,
        task_type: TaskType | None = None,
        high_frequency: bool | None = None,
    ) -> list[Hit]:
        """Every item matching `query` and the filters, best first.

        `department` matches a substring of the department name. An empty query
        lists every item that passes the filters (high-frequency first).
        """
        needle = normalise(query)
        dept = normalise(department) if department else None
        # Per query, not per item: the loop below runs over the whole catalogue.
        has_digit = any(c.isdigit() for c in needle)
        pinyin_query = needle.isascii() and needle.isalpha()
        spelled = _SHORT_FORMS_BY_PINYIN.get(needle) if pinyin_query else None
        hits = []
        for entry in self._entries:
            item = entry.item
            if (
                (region is not None and item.competent_region != region)
                or (dept is not None and dept not in entry.department)
                or (mode is not None and mode not in item.handling_modes)
                or (task_type is not None and item.task_type is not task_type)
                or (high_frequency is not None and item.high_frequency is not high_frequency)
            ):
                continue
            quality = _match(entry, needle, has_digit, pinyin_query) if needle else Quality.ALL
            if spelled is not None:
                as_word = _match(entry, spelled, False, False)
                if as_word is not None or quality is not None:
                    quality = Quality.PINYIN_SCATTERED if as_word is None else as_word
            if quality is not None:
                hits.append(Hit(item, quality))
        hits.sort(key=_rank)
        return hits


def _short_forms_by_pinyin() -> dict[str, str]:
    """Each short form's pinyin, in full and as initials: ``sb`` and ``shebao`` → ``社保``."""
    found: dict[str, str] = {}
    for shorts in ALIASES.values():
        for short in shorts:
            spelled = Syllables.of(short)
            for spelling in (spelled.full, spelled.initials):
                found.setdefault(spelling, normalise(short))
    return found


_SHORT_FORMS_BY_PINYIN = _short_forms_by_pinyin()


def _match(entry: _Entry, needle: str, has_digit: bool, pinyin_query: bool) -> int | None:
    """How well `entry` matches the normalised query `needle`, or None."""
    if needle in entry.codes:
        return Quality.CODE_EXACT
    # A code prefix needs a digit, so pinyin initials such as "sz" do not list a region.
    if has_digit and any(code.startswith(needle) for code in entry.codes):
        return Quality.CODE_PREFIX
    if needle == entry.name:
        return Quality.NAME_EXACT
    if entry.name.startswith(needle):
        return Quality.NAME_PREFIX
    if needle in entry.name:
        return _name_quality(entry, needle)
    if pinyin_query:
        if entry.pinyin.startswith(needle) or entry.initials.startswith(needle):
            return Quality.PINYIN_PREFIX
        # The plain test first: most items do not match, and spans() costs more.
        in_pinyin = needle in entry.initials or needle in entry.pinyin
        if in_pinyin and any(
            span and not cuts_a_word(entry.words, *span) for span in entry.syllables.spans(needle)
        ):
            return Quality.PINYIN_WORD
        if needle in entry.alias_pinyin:
            return Quality.ALIAS
        if in_pinyin:
            return Quality.PINYIN_SCATTERED
    if needle in entry.aliases:
        return Quality.ALIAS
    if needle in entry.department or needle in entry.department_aliases:
        return Quality.DEPARTMENT
    return None


def _name_quality(entry: _Entry, needle: str) -> int:
    """NAME_WORD if `needle` stands as whole words somewhere in the name, else NAME_SUBSTRING."""
    whole = _whole(entry.raw_name, entry.words, needle)
    return Quality.NAME_WORD if whole else Quality.NAME_SUBSTRING


def _rank(hit: Hit) -> tuple[int, bool, int, int, str]:
    item = hit.item
    return (
        _tier(hit.quality),
        not item.high_frequency,
        hit.quality,
        len(item.task_name),
        item.code,
    )


def summary(item: Item) -> dict[str, Any]:
    """The fields of `item` a result list shows (JSON-ready)."""
    return {
        "code": item.code,
        "task_name": item.task_name,
        "competent_region": item.competent_region,
        "dept_name": item.dept_name,
        "task_type": item.task_type.value,
        "handling_modes": [mode.value for mode in item.handling_modes],
        "high_frequency": item.high_frequency,
        "tongban_lists": [name.value for name in item.tongban_lists],
        "source_kind": item.source.kind,
    }
