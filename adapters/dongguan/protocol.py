"""Dongguan approval service, SOAP 1.1 (MODELLED, see contracts/regions/dongguan.md).

Messages are built with the standard library's ElementTree and parsed with
defusedxml (a region's XML is untrusted: no entities, no external references).
Authentication is an OASIS WS-Security UsernameToken with PasswordDigest:
``Base64(SHA-1(nonce + created + password))``. Shared by the adapter and the sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from gateway.envelope import Status

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
DG = "http://approval.dg.gov.cn/ws/2019"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST_TYPE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
SERVICE_PATH = "/services/ApprovalService"
CONTENT_TYPE = "text/xml; charset=utf-8"
MAX_SKEW = timedelta(minutes=5)

for _prefix, _uri in (("soap", SOAP), ("dg", DG), ("wsse", WSSE), ("wsu", WSU)):
    ET.register_namespace(_prefix, _uri)

OPERATIONS = {
    "submission": "submitCase",
    "supplement": "supplementCase",
    "withdrawal": "withdrawCase",
    "rating": "rateCase",
}

# errorCode in a fault's detail. faultcode soap:Server is transient, soap:Client permanent.
ERRORS = {
    "E101": "身份认证失败",
    "E102": "时间戳超出允许范围或 Nonce 重复",
    "E201": "报文校验失败",
    "E204": "办件不存在",
    "E205": "办件状态不允许此操作",
    "E301": "系统繁忙",
    "E302": "系统维护中",
    "E500": "系统内部错误",
}

STATUS_CODES = {
    "3": Status.ACCEPTED,
    "4": Status.REJECTED,
    "6": Status.SUPPLEMENT_REQUIRED,
    "8": Status.IN_REVIEW,
    "11": Status.APPROVED,
    "12": Status.DENIED,
    "13": Status.WITHDRAWN,
}
CODE_OF_STATUS = {status: code for code, status in STATUS_CODES.items()}


class XmlError(ValueError):
    """A message is not well-formed, not SOAP, or unsafe (entities, DTDs)."""


def q(tag: str, ns: str = DG) -> str:
    return f"{{{ns}}}{tag}"


def password_digest(nonce: bytes, created: str, password: str) -> str:
    # SHA-1 because the UsernameToken profile 1.0 prescribes it; the token is also
    # bounded by Created and a one-time Nonce.
    raw = nonce + created.encode() + password.encode()
    return base64.b64encode(hashlib.sha1(raw).digest()).decode()  # noqa: S324


def envelope(body: ET.Element, username: str | None = None, password: str | None = None) -> bytes:
    """A SOAP 1.1 envelope around `body`, with a UsernameToken when credentials are given."""
    root = ET.Element(q("Envelope", SOAP))
    if username is not None and password is not None:
        header = ET.SubElement(root, q("Header", SOAP))
        token = ET.SubElement(ET.SubElement(header, q("Security", WSSE)), q("UsernameToken", WSSE))
        nonce = secrets.token_bytes(16)
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ET.SubElement(token, q("Username", WSSE)).text = username
        pw = ET.SubElement(token, q("Password", WSSE), {"Type": DIGEST_TYPE})
        pw.text = password_digest(nonce, created, password)
        ET.SubElement(token, q("Nonce", WSSE)).text = base64.b64encode(nonce).decode()
        ET.SubElement(token, q("Created", WSU)).text = created
    ET.SubElement(root, q("Body", SOAP)).append(body)
    raw: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return raw


def fault(code: str, message: str | None = None) -> bytes:
    """A SOAP fault: soap:Server for transient codes (E3xx, E5xx), soap:Client otherwise."""
    element = ET.Element(q("Fault", SOAP))
    side = "soap:Server" if code[1] in "35" else "soap:Client"
    ET.SubElement(element, "faultcode").text = side
    ET.SubElement(element, "faultstring").text = message or ERRORS[code]
    ET.SubElement(ET.SubElement(element, "detail"), q("errorCode")).text = code
    return envelope(element)


def parse(raw: bytes) -> tuple[ET.Element | None, ET.Element]:
    """(Header, first Body child) of a SOAP envelope; raises `XmlError`."""
    try:
        root = SafeET.fromstring(raw)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise XmlError(str(exc)) from exc
    if root.tag != q("Envelope", SOAP):
        raise XmlError("not a SOAP 1.1 envelope")
    body = root.find(q("Body", SOAP))
    if body is None or len(body) == 0:
        raise XmlError("empty SOAP body")
    return root.find(q("Header", SOAP)), body[0]


def text(element: ET.Element, tag: str, default: str = "") -> str:
    found = element.find(q(tag))
    return (found.text or "").strip() if found is not None else default


def child(parent: ET.Element, tag: str, value: Any) -> ET.Element:
    element = ET.SubElement(parent, q(tag))
    if value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)
    return element


def verify_token(
    header: ET.Element | None, username: str, password: str, seen: set[str]
) -> str | None:
    """None if the UsernameToken is genuine and fresh, else E101 or E102."""
    # `is not None`: an element's truth value is its child count (deprecated since 3.12).
    token = (
        header.find(f"{q('Security', WSSE)}/{q('UsernameToken', WSSE)}")
        if header is not None
        else None
    )
    if token is None:
        return "E101"
    user = token.findtext(q("Username", WSSE), "")
    digest = token.findtext(q("Password", WSSE), "")
    nonce_b64 = token.findtext(q("Nonce", WSSE), "")
    created = token.findtext(q("Created", WSU), "")
    try:
        nonce = base64.b64decode(nonce_b64, validate=True)
        at = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "E101"
    expected = password_digest(nonce, created, password)
    if user != username or not hmac.compare_digest(digest, expected):
        return "E101"
    if abs(datetime.now(UTC) - at) > MAX_SKEW or nonce_b64 in seen:
        return "E102"
    seen.add(nonce_b64)
    return None
