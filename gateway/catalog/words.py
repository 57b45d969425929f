"""Where the words are in an item's name, so search can tell whole words from fragments.

``sfz`` is the initials of 身份证 in 居民身份证有效期满换领, but in 税收居民身份证明开具 it
is 身份 plus the first half of 证明: a match that cuts a word in two is a weaker
match. Words and their frequencies come from jieba's dictionary (through rjieba);
`cuts_a_word` says whether a span splits a word a reader would see there.

`Syllables` is a name's pinyin, one syllable per Chinese character, with each
syllable's character position, so a pinyin or initials match maps back to the
characters it covers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import rjieba
from pypinyin import Style, lazy_pinyin

__all__ = ["Syllables", "Words", "cuts_a_word", "word_spans"]

Words = tuple[tuple[int, int, int], ...]
"""``(start, end, frequency)`` of each dictionary word found in a text."""

_LONGEST_WORD = 8  # characters; the dictionary's multi-character words are shorter


def word_spans(text: str) -> Words:
    """``(start, end, frequency)`` of every dictionary word of two or more characters."""
    return tuple(
        (start, end, rjieba.suggest_freq(text[start:end]))
        for start in range(len(text))
        for end in range(start + 2, min(len(text), start + _LONGEST_WORD) + 1)
        if rjieba.has_word(text[start:end])
    )


def cuts_a_word(words: Words, start: int, end: int) -> bool:
    """Whether the characters `start`..`end` of a text cut one of its `words` in two.

    An edge of the span cuts a word when a word crossing it (and not holding the
    whole span) is more frequent than the best word inside the span at that edge:
    证明 (6425) beats 身份证 (709), so 身份证明 is read 身份|证明; 金汇 (8) does not
    beat 公积金 (557), so 住房公积金汇缴 still holds 公积金 whole.
    """
    for edge in (start, end):
        crossing = max(
            (f for s, e, f in words if s < edge < e and not (s <= start and end <= e)),
            default=0,
        )
        if crossing == 0:
            continue
        inside = max(
            (f for s, e, f in words if start <= s and e <= end and edge in (s, e)),
            default=0,
        )
        if crossing > inside:
            return True
    return False


def _blank_per_char(chars: str) -> Any:
    """One "" per character pypinyin cannot read, so its output lines up with the text.

    pypinyin takes a list here (one item per character); its stub says str, hence Any.
    """
    return [""] * len(chars)


def _syllable(text: str) -> str:
    return "".join(c for c in text.lower() if "a" <= c <= "z")


@dataclass(frozen=True, slots=True)
class Syllables:
    """A text's pinyin: in full (``shenfenzheng``), as initials (``sfz``), and where each
    syllable starts in the full form and which character it reads."""

    full: str
    initials: str
    starts: tuple[int, ...]  # offset of each syllable in `full`, then len(full)
    chars: tuple[int, ...]  # the character each syllable reads

    @classmethod
    def of(cls, text: str) -> Syllables:
        read = lazy_pinyin(text, style=Style.NORMAL, errors=_blank_per_char)
        syllables = [(index, _syllable(s)) for index, s in enumerate(read)]
        syllables = [(index, s) for index, s in syllables if s]
        starts, offset = [], 0
        for _, syllable in syllables:
            starts.append(offset)
            offset += len(syllable)
        starts.append(offset)
        return cls(
            full="".join(s for _, s in syllables),
            initials="".join(s[0] for _, s in syllables),
            starts=tuple(starts),
            chars=tuple(index for index, _ in syllables),
        )

    def spans(self, needle: str) -> Iterator[tuple[int, int] | None]:
        """For each place `needle` occurs in the initials or the full pinyin, the
        characters it covers; None where it starts or ends inside a syllable."""
        for offset in _occurrences(self.initials, needle):
            yield self.chars[offset], self.chars[offset + len(needle) - 1] + 1
        for offset in _occurrences(self.full, needle):
            end = offset + len(needle)
            if offset in self.starts and end in self.starts:
                first, after = self.starts.index(offset), self.starts.index(end)
                yield self.chars[first], self.chars[after - 1] + 1
            else:
                yield None


def _occurrences(text: str, needle: str) -> Iterator[int]:
    offset = text.find(needle)
    while offset != -1:
        yield offset
        offset = text.find(needle, offset + 1)
