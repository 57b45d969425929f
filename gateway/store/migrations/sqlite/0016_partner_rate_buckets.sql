-- Partner rate limits shared by gateway processes (PostgreSQL: SharedRateLimiter in
-- gateway/security/ratelimit.py). The embedded store runs one process, which keeps
-- its buckets in memory; the table is here so both schemas stay the same.
CREATE TABLE partner_rate_buckets (
    partner_id  TEXT PRIMARY KEY,
    tokens      REAL NOT NULL,
    updated_at  REAL NOT NULL,
    granted     INTEGER NOT NULL
);
