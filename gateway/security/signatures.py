"""RFC 9421 HTTP Message Signatures with Ed25519 or SM2: the signature base, signing, verifying.

This module is the mechanism only: it builds the signature base for a message,
parses ``Signature-Input`` / ``Signature``, signs and checks the Ed25519 signature.
Policy (which components must be covered, how old ``created`` may be, which keys
are trusted, nonces) is `gateway.security.auth`'s.

Supported components: the derived ``@method``, ``@target-uri``, ``@authority``,
``@scheme``, ``@path``, ``@query`` and ``@request-target``, and header fields by
name. Component parameters (``;sf``, ``;key``, ``;bs``, ``;req``) are refused as
unsupported rather than mis-handled: partners have no need for them here.

Written here rather than delegated to the ``http-message-signatures`` package,
which the tests use as the independent implementation both ways: our verifier
must name the exact failed check (stale vs future ``created``, unknown vs expired
key), which that package reports only as message text of one exception type.
Structured-field parsing and serialising is delegated to ``http-sf`` (RFC 9651).

Algorithms: ``ed25519`` (RFC 9421 §3.3.6) and ``sm2-sm3``, a name we define
(contracts/signatures-sm2.md; the IANA registry has none): SM2 over SM3(Z_A ||
signature base) with the default ID ``1234567812345678``, the signature value being
the 64 bytes ``r || s`` as RFC 9421 §3.3.4 does for ECDSA. The key decides the
algorithm; an ``alg`` parameter naming another is refused.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_sf.innerlist import ser_innerlist

from gateway.errors import InvalidSignature as SM2InvalidSignature
from gateway.errors import SignatureError
from gateway.security.sm2 import SM2PrivateKey, SM2PublicKey

ALGORITHM = "ed25519"
SM2_ALGORITHM = "sm2-sm3"
ALGORITHMS = frozenset({ALGORITHM, SM2_ALGORITHM})
DEFAULT_LABEL = "sig1"
DERIVED = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@path", "@query", "@request-target"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class HttpMessage:
    """A request as signed: method, absolute target URI and header field lines.

    `headers` maps lowercase field names to their field lines in order; build it
    with `HttpMessage.of`.
    """

    method: str
    target_uri: str
    headers: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, method: str, target_uri: str, headers: Iterable[tuple[str, str]]) -> HttpMessage:
        """Build a message from ``(name, value)`` pairs (any case, repeats kept)."""
        lines: dict[str, list[str]] = {}
        for name, value in headers:
            lines.setdefault(name.lower(), []).append(value)
        return cls(method=method, target_uri=target_uri, headers=lines)

    def header(self, name: str) -> str | None:
        """The combined value of field `name` (RFC 9110 §5.3), or None when absent."""
        lines = self.headers.get(name.lower())
        if not lines:
            return None
        return ", ".join(line.strip() for line in lines)

    def component(self, name: str) -> str:
        """The value of component `name` in the signature base (RFC 9421 §2).

        Raises `SignatureError` ``component_missing`` for an absent header field.
        """
        if name.startswith("@"):
            return self._derived(name)
        value = self.header(name)
        if value is None:
            raise SignatureError(
                "component_missing", f"the signature covers {name!r}, which the message lacks"
            )
        return value

    def _derived(self, name: str) -> str:
        parts = urlsplit(self.target_uri)
        if name == "@method":
            return self.method
        if name == "@target-uri":
            return self.target_uri
        if name == "@scheme":
            return parts.scheme.lower()
        if name == "@authority":
            host = (parts.hostname or "").lower()
            if ":" in host:  # an IPv6 literal keeps its brackets
                host = f"[{host}]"
            port = parts.port
            if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower()):
                return host
            return f"{host}:{port}"
        path = parts.path or "/"
        query = f"?{parts.query}"
        if name == "@path":
            return path
        if name == "@query":
            return query
        if name == "@request-target":
            return path + (query if parts.query else "")
        raise SignatureError("component_unsupported", f"derived component {name!r} not supported")


@dataclass(frozen=True)
class ParsedSignature:
    """One signature read from ``Signature-Input`` and ``Signature``, not yet verified."""

    label: str
    components: tuple[str, ...]
    params: Mapping[str, Any]
    signature: bytes
    # The serialised inner list when the header held it in its serialised form already
    # (`_parsed_simply`); else None, and `signature_params` serialises it.
    params_text: str | None = field(default=None, compare=False, repr=False)

    @cached_property
    def signature_params(self) -> str:
        """The ``@signature-params`` value: the serialised inner list with its parameters."""
        if self.params_text is not None:
            return self.params_text
        return serialize_params(self.components, self.params)

    @property
    def signature_input(self) -> str:
        """This signature's ``Signature-Input`` member, ``label=(...);created=...``."""
        return f"{self.label}={self.signature_params}"

    @property
    def signature_header(self) -> str:
        """This signature's ``Signature`` member, ``label=:base64:``."""
        return f"{self.label}=:{base64.b64encode(self.signature).decode('ascii')}:"

    def int_param(self, name: str) -> int | None:
        value = self.params.get(name)
        # bool is an int subclass; an SF boolean is not a timestamp.
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise SignatureError("params_malformed", f"signature parameter {name!r} must be an integer")

    def str_param(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is None or isinstance(value, str):
            return value
        raise SignatureError("params_malformed", f"signature parameter {name!r} must be a string")


def serialize_params(components: Sequence[str], params: Mapping[str, Any]) -> str:
    """Serialise covered components and parameters as an SF inner list (RFC 9651)."""
    return str(ser_innerlist(([(name, {}) for name in components], dict(params))))


def signature_base(message: HttpMessage, components: Sequence[str], params_value: str) -> str:
    """The RFC 9421 §2.5 signature base: one line per component, then ``@signature-params``.

    Raises `SignatureError` for a repeated, missing or unsupported component, or a
    value that would break the line format.
    """
    lines = []
    seen = set()
    for name in components:
        if name in seen:
            raise SignatureError("params_malformed", f"component {name!r} is covered twice")
        seen.add(name)
        if name != name.lower() or (name.startswith("@") and name not in DERIVED):
            raise SignatureError("component_unsupported", f"component {name!r} is not supported")
        value = message.component(name)
        if "\n" in value or "\r" in value:
            raise SignatureError("component_malformed", f"component {name!r} holds a line break")
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {params_value}')
    base = "\n".join(lines)
    if not base.isascii():
        raise SignatureError("component_malformed", "the signature base is not ASCII")
    return base


@dataclass(frozen=True)
class SignedHeaders:
    """What `sign` produces: the two header values and the base that was signed."""

    signature_input: str
    signature: str
    base: str

    def as_headers(self) -> dict[str, str]:
        return {"Signature-Input": self.signature_input, "Signature": self.signature}


def algorithm_of(key: Ed25519PrivateKey | Ed25519PublicKey | SM2PrivateKey | SM2PublicKey) -> str:
    """The RFC 9421 ``alg`` value for `key`'s type."""
    return SM2_ALGORITHM if isinstance(key, SM2PrivateKey | SM2PublicKey) else ALGORITHM


def sign(
    message: HttpMessage,
    private_key: Ed25519PrivateKey | SM2PrivateKey,
    *,
    keyid: str,
    components: Sequence[str],
    created: int,
    expires: int | None = None,
    nonce: str | None = None,
    label: str = DEFAULT_LABEL,
) -> SignedHeaders:
    """Sign `message` over `components`; parameters in the order created, keyid, alg...

    Raises `SignatureError` if a covered component is missing from the message.
    """
    params: dict[str, Any] = {"created": created, "keyid": keyid, "alg": algorithm_of(private_key)}
    if expires is not None:
        params["expires"] = expires
    if nonce is not None:
        params["nonce"] = nonce
    params_value = serialize_params(components, params)
    base = signature_base(message, components, params_value)
    if isinstance(private_key, SM2PrivateKey):
        signature = private_key.sign(base.encode("ascii"), encoding="raw")
    else:
        signature = private_key.sign(base.encode("ascii"))
    encoded = base64.b64encode(signature).decode("ascii")
    return SignedHeaders(
        signature_input=f"{label}={params_value}", signature=f"{label}=:{encoded}:", base=base
    )


def parse_signature(message: HttpMessage, label: str | None = None) -> ParsedSignature:
    """Read the signature labelled `label` (default: the first) from `message`.

    Raises `SignatureError`: ``signature_missing`` when neither header is there,
    ``signature_malformed`` for anything that does not parse as RFC 9421 says.
    """
    input_header = message.header("signature-input")
    signature_header = message.header("signature")
    if input_header is None and signature_header is None:
        raise SignatureError("signature_missing", "Signature-Input and Signature are required")
    if input_header is None or signature_header is None:
        raise SignatureError(
            "signature_malformed", "Signature-Input and Signature must come together"
        )
    return _parsed_signature(input_header, signature_header, label)


# A request's signature is read three times on its way in (key lookup, the SM2 check,
# verification): parsed once. Keyed by the header values themselves, so a cached
# answer is the same one a fresh parse gives; errors are not cached.
@lru_cache(maxsize=256)
def _parsed_signature(
    input_header: str, signature_header: str, label: str | None
) -> ParsedSignature:
    simple = _parsed_simply(input_header, signature_header, label)
    return (
        simple if simple is not None else _parsed_generally(input_header, signature_header, label)
    )


def _parsed_generally(
    input_header: str, signature_header: str, label: str | None
) -> ParsedSignature:
    """The signature as http_sf parses the two headers (any valid form)."""
    inputs = _parse_dictionary(input_header, "Signature-Input")
    signatures = _parse_dictionary(signature_header, "Signature")
    if not inputs:
        raise SignatureError("signature_malformed", "Signature-Input is empty")
    chosen = label if label is not None else next(iter(inputs))
    if chosen not in inputs or chosen not in signatures:
        raise SignatureError("signature_malformed", f"no signature labelled {chosen!r}")
    members, params = inputs[chosen]
    value, _ = signatures[chosen]
    if not isinstance(members, list) or not isinstance(value, bytes):
        raise SignatureError(
            "signature_malformed", "Signature-Input needs an inner list, Signature bytes"
        )
    components = []
    for item, item_params in members:
        if not isinstance(item, str):
            raise SignatureError("signature_malformed", "covered components must be strings")
        if item_params:
            raise SignatureError(
                "component_unsupported", f"component parameters on {item!r} are not supported"
            )
        components.append(item)
    return ParsedSignature(
        label=chosen, components=tuple(components), params=params, signature=value
    )


# The shape every signer we know sends, as serialised (RFC 9651 §4.1): one member, an
# inner list of plain strings, integer or string parameters, single spaces, no escapes.
# A header of this shape is read with a few regular expressions (http_sf's general
# parser is a tenth of intake's signature check); anything else goes to http_sf, so
# this only ever accepts a subset of what it accepts, and reads it the same way
# (tests/unit/test_security_signatures.py compares both on generated headers).
_SF_KEY = r"[a-z*][a-z0-9_\-.*]{0,63}"
_SF_CHARS = r"[\x20\x21\x23-\x5b\x5d-\x7e]*"  # printable ASCII but " and \
_SF_INT = r"(?:0|-?[1-9][0-9]{0,14})"  # as serialised: no leading zero, no -0
_SIMPLE_INPUT = re.compile(
    rf'({_SF_KEY})=(\(((?:"{_SF_CHARS}"(?: "{_SF_CHARS}")*)?)\)'
    rf'((?:;{_SF_KEY}=(?:{_SF_INT}|"{_SF_CHARS}"))*))'
)
_SIMPLE_ITEM = re.compile(rf'"({_SF_CHARS})"')
_SIMPLE_PARAM = re.compile(rf';({_SF_KEY})=(?:({_SF_INT})|"({_SF_CHARS})")')
# Canonical padded base64, as serialised (http_sf also takes it unpadded).
_B64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_SIMPLE_SIGNATURE = re.compile(rf"({_SF_KEY})=:({_B64}):")


def _parsed_simply(
    input_header: str, signature_header: str, label: str | None
) -> ParsedSignature | None:
    """The signature, if both headers have the common serialised shape; else None."""
    found = _SIMPLE_INPUT.fullmatch(input_header)
    signed = _SIMPLE_SIGNATURE.fullmatch(signature_header)
    if found is None or signed is None:
        return None
    chosen, params_text, inner, rest = found.groups()
    if signed.group(1) != chosen or (label is not None and label != chosen):
        return None  # http_sf names the failure
    params: dict[str, Any] = {}
    for key, number, text in _SIMPLE_PARAM.findall(rest):
        if key in params:
            return None  # a repeated parameter: refused by http_sf
        params[key] = int(number) if number else text
    return ParsedSignature(
        label=chosen,
        components=tuple(_SIMPLE_ITEM.findall(inner)),
        params=params,
        signature=base64.b64decode(signed.group(2), validate=True),
        params_text=params_text,
    )


def verify_signature(
    message: HttpMessage, parsed: ParsedSignature, public_key: Ed25519PublicKey | SM2PublicKey
) -> str:
    """Check `parsed` over `message` with `public_key`; return the signature base.

    Only the cryptography and the base: parameters are the caller's policy, except
    ``alg``, which must name `public_key`'s algorithm when present.
    Raises `SignatureError` ``algorithm_unsupported`` for another ``alg``,
    ``signature_invalid`` if it does not verify.
    """
    alg = parsed.str_param("alg")
    if alg is not None and alg != algorithm_of(public_key):
        raise SignatureError(
            "algorithm_unsupported", f"this keyid's key signs with {algorithm_of(public_key)!r}"
        )
    base = signature_base(message, parsed.components, parsed.signature_params)
    try:
        if isinstance(public_key, SM2PublicKey):
            public_key.verify(parsed.signature, base.encode("ascii"), encoding="raw")
        else:
            public_key.verify(parsed.signature, base.encode("ascii"))
    except (InvalidSignature, SM2InvalidSignature) as exc:
        raise SignatureError(
            "signature_invalid", "the signature does not verify over this request"
        ) from exc
    return base


def _parse_dictionary(value: str, name: str) -> dict[str, Any]:
    def refuse_duplicate(key: str, context: str) -> None:
        raise ValueError(f"duplicate {context} key {key!r}")

    try:
        parsed = http_sf.parse(
            value.encode("ascii"), tltype="dictionary", on_duplicate_key=refuse_duplicate
        )
    except (http_sf.StructuredFieldError, UnicodeEncodeError, ValueError) as exc:
        raise SignatureError(
            "signature_malformed", f"{name} is not a structured dictionary"
        ) from exc
    assert isinstance(parsed, dict)  # noqa: S101 - tltype="dictionary" returns a dict
    return parsed
