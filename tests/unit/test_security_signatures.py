"""RFC 9421 signatures and RFC 9530 digests: the published example, and interop both ways.

The independent implementation is the ``http-message-signatures`` package (pyauth),
which we did not write: our verifier must accept what it signs, and it must accept
what we sign.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field

import http_sf
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.resolvers import HTTPSignatureKeyResolver
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import SignatureError
from gateway.security import RequestSigner, content_digest, digest, verify_content_digest
from gateway.security.keys import b64url_decode, load_public_key
from gateway.security.signatures import (
    HttpMessage,
    _parsed_generally,
    _parsed_simply,
    parse_signature,
    serialize_params,
    sign,
    verify_signature,
)

# RFC 9421 Appendix B.1.4 (test-key-ed25519) and B.2.6, as published.
RFC_ED25519_PRIVATE = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"
RFC_ED25519_PUBLIC = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPp"
    "BKRCw==:"
)
B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
    '"content-length");created=1618884473;keyid="test-key-ed25519"'
)
RFC_HEADERS = [
    ("Host", "example.com"),
    ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
    ("Content-Type", "application/json"),
    (
        "Content-Digest",
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    ),
    ("Content-Length", "18"),
]
RFC_BODY = b'{"hello": "world"}'


def rfc_message(*extra: tuple[str, str]) -> HttpMessage:
    return HttpMessage.of(
        "POST", "http://example.com/foo?param=Value&Pet=dog", [*RFC_HEADERS, *extra]
    )


def test_rfc9421_b26_example_verifies() -> None:
    message = rfc_message(("Signature-Input", B26_INPUT), ("Signature", B26_SIGNATURE))
    parsed = parse_signature(message)
    base = verify_signature(message, parsed, load_public_key(RFC_ED25519_PUBLIC))
    assert base == B26_BASE


def test_rfc9421_b26_example_is_reproduced_by_signing() -> None:
    """Ed25519 is deterministic: signing the example yields the published signature."""
    private = Ed25519PrivateKey.from_private_bytes(b64url_decode(RFC_ED25519_PRIVATE))
    signed = sign(
        rfc_message(),
        private,
        keyid="test-key-ed25519",
        components=["date", "@method", "@path", "@authority", "content-type", "content-length"],
        created=1618884473,
        label="sig-b26",
    )
    # Our sign() adds alg="ed25519"; the example has none, so compare the base without it.
    assert signed.base.replace(';alg="ed25519"', "") == B26_BASE
    raw = base64.b64decode(B26_SIGNATURE.split(":")[1])
    assert private.sign(B26_BASE.encode()) == raw


def test_rfc9421_b26_example_fails_when_a_covered_header_changes() -> None:
    message = HttpMessage.of(
        "POST",
        "http://example.com/foo?param=Value&Pet=dog",
        [
            *[(n, "19" if n == "Content-Length" else v) for n, v in RFC_HEADERS],
            ("Signature-Input", B26_INPUT),
            ("Signature", B26_SIGNATURE),
        ],
    )
    with pytest.raises(SignatureError) as caught:
        verify_signature(message, parse_signature(message), load_public_key(RFC_ED25519_PUBLIC))
    assert caught.value.check == "signature_invalid"


def test_sha512_digest_of_the_rfc_example_body_checks() -> None:
    """A sha-512 Content-Digest (accepted alongside sha-256) is checked against the body."""
    assert verify_content_digest(dict(RFC_HEADERS)["Content-Digest"], RFC_BODY) == (
        hashlib.sha256(RFC_BODY).hexdigest()
    )


@pytest.mark.parametrize(
    ("header", "check"),
    [
        (None, "digest_missing"),
        ("sha-256", "digest_malformed"),
        ("md5=:AAAA:", "digest_unsupported"),
        ("sha-256=:AAAA:", "digest_mismatch"),
    ],
)
def test_bad_digests_are_named(header: str | None, check: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_content_digest(header, b"body")
    assert caught.value.check == check


def test_our_digest_is_sha256() -> None:
    assert content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


# --- interoperability with http-message-signatures (pyauth) ---------------------------


@dataclass
class LibRequest:
    """The request shape http-message-signatures reads: method, url, mutable headers."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


class Keys(HTTPSignatureKeyResolver):
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self.private = private

    def resolve_public_key(self, key_id: str) -> object:
        return self.private.public_key()

    def resolve_private_key(self, key_id: str) -> object:
        return self.private


URL = "https://gw.example.gov.cn/v1/applications?via=portal"
BODY = '{"item_code":"SZ-0001","applicant":"张三"}'.encode()


def test_we_verify_what_http_message_signatures_signs() -> None:
    private = Ed25519PrivateKey.generate()
    request = LibRequest("POST", URL, {"Content-Type": "application/json"})
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Keys(private)).sign(
        request,
        key_id="partner-1",
        nonce="n-123",
        covered_component_ids=("@method", "@target-uri", "content-type"),
        body=BODY,  # makes the library add Content-Digest and cover it
    )
    message = HttpMessage.of("POST", URL, request.headers.items())
    parsed = parse_signature(message)
    assert set(parsed.components) >= {"@method", "@target-uri", "content-type", "content-digest"}
    assert parsed.params["alg"] == "ed25519"
    verify_signature(message, parsed, private.public_key())
    verify_content_digest(message.header("content-digest"), BODY)


def test_we_verify_its_split_target_signature() -> None:
    private = Ed25519PrivateKey.generate()
    request = LibRequest("GET", URL)
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Keys(private)).sign(
        request, key_id="p", covered_component_ids=("@method", "@authority", "@path", "@query")
    )
    message = HttpMessage.of("GET", URL, request.headers.items())
    base = verify_signature(message, parse_signature(message), private.public_key())
    assert '"@query": ?via=portal' in base


def test_http_message_signatures_verifies_what_we_sign() -> None:
    private = Ed25519PrivateKey.generate()
    headers = {"Content-Type": "application/json", "Idempotency-Key": "abc"}
    signer = RequestSigner(private, "gateway-key")
    headers.update(signer("POST", URL, headers, BODY))
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=Keys(private)
    )
    verifier.max_clock_skew = dt.timedelta(seconds=300)
    (result,) = verifier.verify(
        LibRequest("POST", URL, headers),
        require_components=("@method", "@target-uri", "content-type", "content-digest"),
        body=BODY,
    )
    assert result.parameters["keyid"] == "gateway-key"
    assert int(result.parameters["created"]) <= time.time()
    assert '"idempotency-key"' in result.covered_components


def test_http_message_signatures_refuses_our_signature_over_another_body() -> None:
    private = Ed25519PrivateKey.generate()
    headers = {"Content-Type": "application/json"}
    headers.update(RequestSigner(private, "k")("POST", URL, headers, BODY))
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=Keys(private)
    )
    with pytest.raises(InvalidSignature):
        verifier.verify(LibRequest("POST", URL, headers), body=BODY + b"x")


@pytest.mark.parametrize(
    ("headers", "check"),
    [
        ({"Signature-Input": 'sig1=("@method");created=1'}, "signature_malformed"),
        ({"Signature-Input": "sig1=(", "Signature": "sig1=:AA==:"}, "signature_malformed"),
        (
            {"Signature-Input": 'sig1=("content-type";sf)', "Signature": "sig1=:AA==:"},
            "component_unsupported",
        ),
    ],
)
def test_malformed_signature_headers_are_named(headers: dict[str, str], check: str) -> None:
    with pytest.raises(SignatureError) as caught:
        parse_signature(HttpMessage.of("GET", URL, headers.items()))
    assert caught.value.check == check


def test_derived_components_follow_rfc9421() -> None:
    message = HttpMessage.of("GET", "HTTPS://Example.COM:443/a%20b?x=1&y", [])
    assert message.component("@authority") == "example.com"
    assert message.component("@scheme") == "https"
    assert message.component("@path") == "/a%20b"
    assert message.component("@query") == "?x=1&y"
    assert message.component("@request-target") == "/a%20b?x=1&y"
    bare = HttpMessage.of("GET", "http://h:8080", [])
    assert (bare.component("@authority"), bare.component("@path")) == ("h:8080", "/")
    assert bare.component("@query") == "?"


# -- the serialised-shape fast path reads headers exactly as http_sf does ----------------

_SF_PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
_SF_KEYS = st.from_regex(r"\A[a-z*][a-z0-9_\-.*]{0,6}\Z") | st.sampled_from(
    ["sig1", "created", "keyid", "alg", "nonce", "expires", "tag", "A", "1a", ""]
)
_PARAM_VALUES = (
    st.integers(-(10**15) + 1, 10**15 - 1).map(str)
    | _SF_PRINTABLE.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"')
    | st.sampled_from(["007", "-0", "?1", "tok", '"a\\"b"', "1.5", "10000000000000000", ""])
)
_SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\t", ""])


@st.composite
def _signature_headers(draw: st.DrawFn) -> tuple[str, str]:
    """Signature-Input and Signature values: mostly well serialised, some not."""
    label = draw(_SF_KEYS)
    items = draw(st.lists(_SF_PRINTABLE, max_size=5))
    quoted = ['"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items]
    separator = draw(_SEPARATORS)
    params = draw(st.lists(st.tuples(_SF_KEYS, _PARAM_VALUES), max_size=5))
    text = "".join(f";{key}={value}" if value != "?1" else f";{key}" for key, value in params)
    extra = draw(st.sampled_from(["", "", "", ", sig2=()", " ", ";", ","]))
    signature_input = f"{label}=({separator.join(quoted)}){text}{extra}"
    value = base64.b64encode(draw(st.binary(max_size=70))).decode("ascii")
    value = draw(st.sampled_from([value, value, value.rstrip("="), value + "=", "!" + value]))
    signature_label = draw(st.sampled_from([label, label, label, "sig2"]))
    return signature_input, f"{signature_label}=:{value}:"


@settings(max_examples=800, deadline=None)
@given(_signature_headers(), st.sampled_from([None, None, "sig1"]))
def test_simple_signature_headers_read_as_http_sf_reads_them(
    headers: tuple[str, str], label: str | None
) -> None:
    signature_input, signature = headers
    fast = _parsed_simply(signature_input, signature, label)
    try:
        general = _parsed_generally(signature_input, signature, label)
    except SignatureError:
        assert fast is None  # what http_sf refuses is never read by the fast path
        return
    if fast is not None:
        assert fast == general
        assert fast.signature_params == serialize_params(general.components, general.params)


def test_what_we_sign_takes_the_fast_path() -> None:
    key = Ed25519PrivateKey.generate()
    headers = [("Content-Type", "application/json"), ("Content-Digest", content_digest(b"{}"))]
    message = HttpMessage.of("POST", "https://gw.example/v1/applications", headers)
    signed = sign(
        message, key, keyid="k-1", created=1_733_000_000, nonce="n0nce/+=", expires=1_733_000_300,
        components=("@method", "@target-uri", "content-type", "content-digest"),
    )  # fmt: skip
    fast = _parsed_simply(signed.signature_input, signed.signature, None)
    assert fast is not None
    assert fast.signature_params == signed.signature_input.partition("=")[2]
    assert verify_signature(message, fast, key.public_key()) == signed.base


@pytest.mark.parametrize(
    "signature_input",
    [
        'sig1=("@method" "content-type");created=1;keyid="k";alg="ed25519";nonce="n"',
        'sig1=("a)b" "c;d=e");nonce=";x=\\"";created=-5',
        'sig1=("a)b" "c;d=e");nonce=";x=y";created=-5',
        "sig1=();created=0",
        'sig1=("@method");created=007',
        'sig1=("@method");created=-0',
        'sig1=("@method");created=1;created=2',
        'sig1=("@method");flag;created=1',
        'sig1=("@method");alg=ed25519',
        'sig1=("@method"  "@path")',
        'sig1=("@method");created=1, sig2=()',
        'sig1=("@method");created=1 ',
        'Sig1=("@method")',
        'sig1=("@method";req)',
        'sig1=("@method");created=1234567890123456',
        'sig1=("@method");created=123456789012345',
    ],
)
@pytest.mark.parametrize("signature", ["sig1=:AAAA:", "sig1=:AAA:", "sig1=:AA==:", "sig2=:AAAA:"])
def test_tricky_signature_headers_read_as_http_sf_reads_them(
    signature_input: str, signature: str
) -> None:
    fast = _parsed_simply(signature_input, signature, None)
    try:
        general = _parsed_generally(signature_input, signature, None)
    except SignatureError:
        assert fast is None
        return
    if fast is not None:
        assert fast == general
        assert fast.signature_params == serialize_params(general.components, general.params)


@pytest.mark.parametrize(
    "header",
    [
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:",
        "sha-512=:AAAA:",
        "sha-256=:AA==:",
        "sha-256=:A===:",
        "sha-256=:AAAA:;x=1",
        "sha-256=:AAAA:, sha-512=:AAAA:",
        "sha-256=:AAAA:, sha-256=:AAAB:",
        "sha-256=::",
        "sha-256=AAAA",
        "md5=:AAAA:",
        "sha-256=:AA AA:",
    ],
)
def test_simple_digest_headers_read_as_http_sf_reads_them(header: str) -> None:
    try:
        general = http_sf.parse(header.encode("ascii"), tltype="dictionary")
    except http_sf.StructuredFieldError:
        with pytest.raises(SignatureError, match="structured dictionary"):
            digest._parsed(header)
        return
    assert digest._parsed(header) == general
