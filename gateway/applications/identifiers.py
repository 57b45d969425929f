"""Identifier checks and masks: resident ID, credit code, permits, passports, phones.

Each ``check_*`` function returns the normalised value or raises `IdentifierError`
with a Chinese message a window clerk can act on. The check digits follow the
standards exactly (DOMAIN.md, "Identifiers"):

- resident ID (GB 11643-1999): ISO 7064 MOD 11-2 over 17 digits, a real birth
  date not in the future; a lower-case ``x`` is upper-cased first;
- unified social credit code (GB 32100-2015): weights mod 31 over the 31-letter
  alphabet; letter registration authorities (A, N, Y) are allowed, which
  python-stdnum's ``cn.uscc`` wrongly refuses, hence our own implementation.

The ``mask_*`` functions give the forms every list and log shows by default.
"""

from __future__ import annotations

import re
from datetime import date

from gateway.errors import IdentifierError

RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RIC_CHECK = "10X98765432"  # index: weighted sum mod 11

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Position 1: registration authority (GB 32100 table 1): 1-9 and A, N, Y.
_USCC_SHAPE = re.compile(r"^[1-9ANY][0-9A-HJ-NP-RTUWXY][0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}$")

_PASSPORT = re.compile(r"^[A-Z0-9]{5,17}$")
# 港澳居民来往内地通行证 (回乡证): H or M + 8 digits (older cards add 2 digits).
_HK_MACAO_PERMIT = re.compile(r"^[HM][0-9]{8}([0-9]{2})?$")
# 台湾居民来往大陆通行证 (台胞证): 8 digits (2015 card), older ones 10 digits + letter.
_TAIWAN_PERMIT = re.compile(r"^([0-9]{8}|[0-9]{10}[A-Z]?)$")
# Mainland mobile numbers: 11 digits, 1[3-9]x; an optional +86 / 86 prefix is dropped.
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def ric_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, RIC_WEIGHTS, strict=True))
    return RIC_CHECK[total % 11]


def check_resident_id(value: str, *, today: date | None = None) -> str:
    """Return the normalised 18-character resident ID number, or raise `IdentifierError`."""
    number = value.strip().upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise IdentifierError("居民身份证号码应为18位：前17位数字，最后一位为数字或X")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentifierError("居民身份证号码中的出生日期不存在") from None
    if born > (today or date.today()) or born.year < 1900:
        raise IdentifierError("居民身份证号码中的出生日期不合理")
    if ric_check_char(number[:17]) != number[17]:
        raise IdentifierError("居民身份证号码校验位不正确，请核对是否抄错")
    return number


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    total = sum(
        USCC_ALPHABET.index(char) * weight
        for char, weight in zip(first17, USCC_WEIGHTS, strict=True)
    )
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str:
    """Return the normalised unified social credit code, or raise `IdentifierError`."""
    code = value.strip().upper()
    if len(code) != 18 or not _USCC_SHAPE.match(code[:17] + "0"):
        raise IdentifierError("统一社会信用代码应为18位，由数字和大写字母组成（不含I、O、Z、S、V）")
    if code[17] not in USCC_ALPHABET or uscc_check_char(code[:17]) != code[17]:
        raise IdentifierError("统一社会信用代码校验位不正确，请核对是否抄错")
    return code


def check_passport(value: str) -> str:
    """A passport number: 5-17 letters and digits (formats differ by country)."""
    number = value.strip().upper()
    if not _PASSPORT.match(number):
        raise IdentifierError("护照号码应为5至17位字母或数字")
    return number


def check_hk_macao_permit(value: str) -> str:
    """港澳居民来往内地通行证: H (Hong Kong) or M (Macao) and 8 digits."""
    number = value.strip().upper()
    if not _HK_MACAO_PERMIT.match(number):
        raise IdentifierError("港澳居民来往内地通行证号码应为H或M开头加8位数字")
    return number


def check_taiwan_permit(value: str) -> str:
    """台湾居民来往大陆通行证: 8 digits (or the older 10 digits and a letter)."""
    number = value.strip().upper()
    if not _TAIWAN_PERMIT.match(number):
        raise IdentifierError("台湾居民来往大陆通行证号码应为8位数字")
    return number


PERSON_ID_CHECKS = {
    "resident_id": check_resident_id,
    "passport": check_passport,
    "hk_macao_permit": check_hk_macao_permit,
    "taiwan_permit": check_taiwan_permit,
}


def check_mobile(value: str) -> str:
    """A mainland mobile number, 11 digits; separators and a +86 prefix are dropped."""
    digits = re.sub(r"[\s-]", "", value.strip())
    digits = digits.removeprefix("+86") if digits.startswith("+86") else digits
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not _MOBILE.match(digits):
        raise IdentifierError("手机号码应为11位中国大陆手机号，以13至19开头")
    return digits


def mask_name(name: str) -> str:
    """``张三`` → ``张*``; ``欧阳娜娜`` → ``欧***``; an enterprise name keeps its first 4."""
    if len(name) <= 1:
        return "*"
    keep = 4 if len(name) > 8 else 1
    return name[:keep] + "*" * (len(name) - keep)


def mask_id_number(number: str) -> str:
    """``440301199001011234`` → ``440***********1234``: 3 first and 4 last characters."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_address(address: str) -> str:
    """Keep the first 6 characters (province and city), hide the rest."""
    return address[:6] + "*" * max(0, min(len(address) - 6, 8))
