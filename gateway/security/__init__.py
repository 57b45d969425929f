"""Security: personal-data encryption and blind indexes (signing and partner auth join here)."""

from gateway.security.pii import PiiCipher, PiiKeys, load_keys

__all__ = ["PiiCipher", "PiiKeys", "load_keys"]
