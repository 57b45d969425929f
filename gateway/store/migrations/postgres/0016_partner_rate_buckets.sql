-- Partner rate limits shared by every gateway process on this database
-- (gateway/security/ratelimit.py, SharedRateLimiter): one token bucket per partner.
-- tokens: what is left (fractional, refilled by time); updated_at: Unix seconds of the
-- last request; granted: whether that request got a token (read back by the limiter).
CREATE TABLE partner_rate_buckets (
    partner_id  TEXT PRIMARY KEY,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    granted     BOOLEAN NOT NULL
);
