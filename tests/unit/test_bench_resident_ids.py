"""The bench's applicants: every number it may use is a distinct, valid resident ID."""

from __future__ import annotations

from datetime import date

from gateway.applications.identifiers import check_resident_id
from gateway.bench.loadgen import resident_id

TODAY = date(2026, 12, 3)


def test_numbers_past_one_area_stay_valid_and_distinct() -> None:
    """`--scenario all` takes 2,000,000 numbers per load and ran past 30,000,000, where
    the IDs used to be born in the future (refused 422)."""
    numbers = [0, 1, 999, 1000, 29_999_999, 30_000_000, 30_000_001, 61_234_567, 239_999_999]
    ids = [resident_id(n) for n in numbers]
    assert len(set(ids)) == len(ids)
    for value in ids:
        assert check_resident_id(value, today=TODAY) == value


def test_a_sample_of_the_whole_range_is_distinct() -> None:
    sample = range(0, 240_000_000, 9_973)
    assert len({resident_id(n) for n in sample}) == len(sample)
