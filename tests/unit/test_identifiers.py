"""Identifier checks: GB 11643 resident IDs, GB 32100 credit codes, permits, phones, masks."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric as stdnum_ric

from gateway.applications import identifiers
from gateway.applications.identifiers import (
    USCC_ALPHABET,
    check_mobile,
    check_resident_id,
    check_uscc,
    ric_check_char,
    uscc_check_char,
)
from gateway.errors import IdentifierError

# A copy of shared/reference/id_check_test_vectors.csv, so the suite runs without shared/.
VECTORS = Path(__file__).resolve().parents[1] / "data" / "id_check_test_vectors.csv"


def vectors() -> list[dict[str, str]]:
    with VECTORS.open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("row", vectors(), ids=lambda row: row["value"])
def test_reference_vectors(row: dict[str, str]) -> None:
    check = check_resident_id if row["type"] == "RIC" else check_uscc
    if row["expected"].startswith("invalid"):
        with pytest.raises(IdentifierError):
            check(row["value"])
    else:
        assert check(row["value"]) == row["value"].upper()


birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date.today())
address_codes = st.from_regex(r"[1-8][0-9]{5}", fullmatch=True)
sequences = st.integers(min_value=0, max_value=999)


@given(address_codes, birth_dates, sequences)
def test_generated_resident_ids_pass_and_agree_with_stdnum(
    address: str, born: date, sequence: int
) -> None:
    first17 = f"{address}{born:%Y%m%d}{sequence:03d}"
    number = first17 + ric_check_char(first17)
    assert check_resident_id(number) == number
    assert check_resident_id(number.lower()) == number
    # An independent implementation agrees on the check character.
    assert stdnum_ric.calc_check_digit(first17 + "?") == number[-1]  # it drops the last char


@given(address_codes, birth_dates, sequences, st.sampled_from("0123456789X"))
def test_any_other_check_character_is_refused(
    address: str, born: date, sequence: int, wrong: str
) -> None:
    first17 = f"{address}{born:%Y%m%d}{sequence:03d}"
    if wrong == ric_check_char(first17):
        return
    with pytest.raises(IdentifierError, match="校验位"):
        check_resident_id(first17 + wrong)


@given(address_codes, birth_dates, sequences, st.integers(0, 16), st.integers(1, 9))
def test_a_single_changed_digit_is_detected(
    address: str, born: date, sequence: int, position: int, delta: int
) -> None:
    first17 = f"{address}{born:%Y%m%d}{sequence:03d}"
    number = first17 + ric_check_char(first17)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    with pytest.raises(IdentifierError):
        check_resident_id(changed)


def test_birth_date_must_exist_and_not_be_in_the_future() -> None:
    impossible = "11010519490230001"
    with pytest.raises(IdentifierError, match="不存在"):
        check_resident_id(impossible + ric_check_char(impossible))
    tomorrow = date.today() + timedelta(days=1)
    future = f"110105{tomorrow:%Y%m%d}001"
    with pytest.raises(IdentifierError, match="不合理"):
        check_resident_id(future + ric_check_char(future))


uscc_chars = st.sampled_from(USCC_ALPHABET)
uscc_bodies = st.tuples(
    st.sampled_from("123456789ANY"),
    uscc_chars,
    st.from_regex(r"[0-9]{6}", fullmatch=True),
    st.lists(uscc_chars, min_size=9, max_size=9).map("".join),
).map("".join)


@given(uscc_bodies)
def test_generated_credit_codes_pass_including_letter_authorities(first17: str) -> None:
    code = first17 + uscc_check_char(first17)
    assert check_uscc(code) == code
    total = sum(
        USCC_ALPHABET.index(c) * w
        for c, w in zip(code, (*identifiers.USCC_WEIGHTS, 1), strict=True)
    )
    assert total % 31 == 0  # the defining property of the check character


@given(uscc_bodies, uscc_chars)
def test_credit_code_with_another_check_character_is_refused(first17: str, wrong: str) -> None:
    if wrong == uscc_check_char(first17):
        return
    with pytest.raises(IdentifierError, match="校验位"):
        check_uscc(first17 + wrong)


@pytest.mark.parametrize("code", ["91110000600037341", "I1110000600037341L", "9111000060003734OL"])
def test_malformed_credit_codes(code: str) -> None:
    with pytest.raises(IdentifierError, match="18位"):
        check_uscc(code)


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (identifiers.check_passport, "E12345678", "E1"),
        (identifiers.check_hk_macao_permit, "h12345678", "X12345678"),
        (identifiers.check_taiwan_permit, "12345678", "1234"),
    ],
)
def test_permit_and_passport_formats(check: Callable[[str], str], good: str, bad: str) -> None:
    assert check(good) == good.upper()
    with pytest.raises(IdentifierError):
        check(bad)


@pytest.mark.parametrize(
    "raw", ["13812345678", "+86 138 1234 5678", "8613812345678", "138-1234-5678"]
)
def test_mobile_numbers_are_normalised(raw: str) -> None:
    assert check_mobile(raw) == "13812345678"


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "0755-12345678"])
def test_bad_mobile_numbers(raw: str) -> None:
    with pytest.raises(IdentifierError, match="手机"):
        check_mobile(raw)


def test_masks() -> None:
    assert identifiers.mask_name("张三") == "张*"
    assert identifiers.mask_name("欧阳娜娜") == "欧***"
    assert identifiers.mask_id_number("44030119900101123X") == "440***********123X"
    assert identifiers.mask_phone("13812345678") == "138****5678"
