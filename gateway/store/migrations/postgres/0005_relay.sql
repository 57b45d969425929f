-- The relay's side of the outbox: leases for claims, dead-letter reasons, and one
-- row per attempt (what ops trace). The deliveries table itself is created with the
-- applications, in the same transaction as what it delivers.
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE deliveries ADD COLUMN lease_expires_at TEXT;
ALTER TABLE deliveries ADD COLUMN region_case_no TEXT;
ALTER TABLE deliveries ADD COLUMN delivered_at TEXT;
ALTER TABLE deliveries ADD COLUMN dead_reason_zh TEXT;
ALTER TABLE deliveries ADD COLUMN dead_detail TEXT;
ALTER TABLE deliveries ADD COLUMN replays INTEGER NOT NULL DEFAULT 0;

-- Claims scan one region's due rows; ordering checks look up earlier rows per application.
CREATE INDEX deliveries_claimable ON deliveries (region, state, next_attempt_at);
CREATE INDEX deliveries_in_order ON deliveries (application_id, created_at, id);

CREATE TABLE delivery_attempts (
    delivery_id   TEXT NOT NULL REFERENCES deliveries (id),
    attempt       INTEGER NOT NULL,
    instance      TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    ended_at      TEXT NOT NULL,
    duration_ms   DOUBLE PRECISION NOT NULL,
    outcome       TEXT NOT NULL,
    error_class   TEXT,
    region_code   TEXT,
    http_status   INTEGER,
    detail        TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- The retry budget restarts when ops replay a dead letter: age counts from
-- queued_at, attempts from attempt_budget_base.
ALTER TABLE deliveries ADD COLUMN queued_at TEXT;
ALTER TABLE deliveries ADD COLUMN attempt_budget_base INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET queued_at = created_at;
