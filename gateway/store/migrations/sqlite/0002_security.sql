-- Nonces of RFC 9421 signatures already accepted, per partner, so a signed request
-- cannot be replayed; a row may be deleted once expires_at (Unix seconds) has passed,
-- because a signature that old is refused as stale anyway.
CREATE TABLE signature_nonces (
    partner_id TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (partner_id, nonce)
);
CREATE INDEX signature_nonces_expires_at ON signature_nonces (expires_at);
