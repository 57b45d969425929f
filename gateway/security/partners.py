"""The partner registry: who may call the partner API, with which keys, for which items.

Built once from `SecuritySettings` at start-up; a key id claimed by two partners,
or a public key that does not parse, stops boot with a `ConfigError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.config import SecuritySettings
from gateway.errors import ConfigError, InvalidKey
from gateway.security.keys import load_public_key, thumbprint
from gateway.security.sm2 import SM2PublicKey


@dataclass(frozen=True)
class PartnerKey:
    """One partner public key and its validity window (either end may be open)."""

    keyid: str
    public_key: Ed25519PublicKey | SM2PublicKey
    not_before: datetime | None = None
    not_after: datetime | None = None

    def refusal_at(self, now: datetime) -> str | None:
        """None if the key is valid at `now`, else the check code that fails."""
        if self.not_before is not None and now < self.not_before:
            return "key_not_yet_valid"
        if self.not_after is not None and now >= self.not_after:
            return "key_expired"
        return None


@dataclass(frozen=True)
class ItemRules:
    """Which item codes a partner may submit: all, exact codes, or code prefixes."""

    all_items: bool = False
    codes: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, rules: tuple[str, ...], groups: Mapping[str, tuple[str, ...]]) -> ItemRules:
        """Read ``CODE``, ``PREFIX*``, ``@group`` (expanded from `groups`) and ``*``."""
        expanded: list[str] = []
        for rule in rules:
            expanded.extend(groups[rule[1:]] if rule.startswith("@") else (rule,))
        return cls(
            all_items="*" in expanded,
            codes=frozenset(rule for rule in expanded if not rule.endswith("*")),
            prefixes=tuple(rule[:-1] for rule in expanded if rule.endswith("*") and rule != "*"),
        )

    def allows(self, item_code: str) -> bool:
        return self.all_items or item_code in self.codes or item_code.startswith(self.prefixes)


@dataclass(frozen=True)
class Partner:
    """A partner as configured: id, keys, item rules, webhook URL and rate limit."""

    id: str
    name: str
    keys: tuple[PartnerKey, ...]
    items: ItemRules
    callback_url: str | None
    rate_limit_per_minute: int
    rate_limit_burst: int

    def may_submit(self, item_code: str) -> bool:
        """Whether this partner may submit applications for `item_code`."""
        return self.items.allows(item_code)


def load_partner_public_key(text: str) -> Ed25519PublicKey | SM2PublicKey:
    """An Ed25519 key (PEM or JWK ``x``) or an SM2 key (PEM or hex ``04||x||y``).

    Raises `ValueError` naming both readings when it is neither.
    """
    try:
        return load_public_key(text)
    except ValueError as ed25519_problem:
        try:
            return SM2PublicKey.load(text)
        except InvalidKey as sm2_problem:
            raise ValueError(
                f"neither an Ed25519 key ({ed25519_problem}) nor an SM2 key ({sm2_problem})"
            ) from sm2_problem


def partner_key_id(key: Ed25519PublicKey | SM2PublicKey) -> str:
    """The RFC 7638 thumbprint of a partner's key, of either algorithm: its default key id."""
    return key.thumbprint() if isinstance(key, SM2PublicKey) else thumbprint(key)


class PartnerRegistry:
    """Every configured partner, looked up by id or by signing key id."""

    def __init__(self, partners: Mapping[str, Partner]) -> None:
        self._partners = dict(partners)
        self._by_keyid: dict[str, tuple[Partner, PartnerKey]] = {}
        for partner in self._partners.values():
            for key in partner.keys:
                if key.keyid in self._by_keyid:
                    other = self._by_keyid[key.keyid][0].id
                    raise ConfigError(
                        "security.partners",
                        [
                            (
                                f"security.partners.{partner.id}",
                                f"keyid {key.keyid!r} also {other}'s",
                            )
                        ],
                    )
                self._by_keyid[key.keyid] = (partner, key)

    @classmethod
    def from_settings(cls, settings: SecuritySettings) -> PartnerRegistry:
        """Build the registry; raise `ConfigError` for a bad key or a duplicate key id."""
        partners = {}
        for partner_id, config in settings.partners.items():
            keys = []
            for index, key_config in enumerate(config.keys):
                try:
                    public_key = load_partner_public_key(key_config.public_key)
                except ValueError as exc:
                    where = f"security.partners.{partner_id}.keys.{index}.public_key"
                    raise ConfigError("security.partners", [(where, str(exc))]) from exc
                keys.append(
                    PartnerKey(
                        keyid=key_config.keyid or partner_key_id(public_key),
                        public_key=public_key,
                        not_before=key_config.not_before,
                        not_after=key_config.not_after,
                    )
                )
            partners[partner_id] = Partner(
                id=partner_id,
                name=config.name or partner_id,
                keys=tuple(keys),
                items=ItemRules.parse(config.items, settings.item_groups),
                callback_url=config.callback_url,
                rate_limit_per_minute=config.rate_limit_per_minute,
                rate_limit_burst=config.rate_limit_burst,
            )
        return cls(partners)

    def set_keys(self, partner_id: str, keys: tuple[PartnerKey, ...]) -> None:
        """Replace `partner_id`'s keys (a peer's JWKS, fetched again after a rotation).

        A key id another partner already owns is left out: key ids stay unique.
        """
        partner = self._partners[partner_id]
        for key in partner.keys:
            if self._by_keyid.get(key.keyid, (None,))[0] is partner:
                del self._by_keyid[key.keyid]
        kept = tuple(key for key in keys if key.keyid not in self._by_keyid)
        updated = replace(partner, keys=kept)
        self._partners[partner_id] = updated
        for key in kept:
            self._by_keyid[key.keyid] = (updated, key)

    def get(self, partner_id: str) -> Partner | None:
        return self._partners.get(partner_id)

    def by_keyid(self, keyid: str) -> tuple[Partner, PartnerKey] | None:
        """The partner owning `keyid` and that key, or None if no partner has it."""
        return self._by_keyid.get(keyid)

    def __iter__(self) -> Iterator[Partner]:
        return iter(self._partners.values())

    def __len__(self) -> int:
        return len(self._partners)
