-- Applications (办件), their history, the outbox of deliveries, idempotency keys,
-- attachments and ratings. Times are ISO-8601 UTC text and dates 'YYYY-MM-DD' text
-- on both backends: they compare correctly as text and the code stays one path.
-- Personal data lives only in `personal` (AES-GCM, key id inside the ciphertext).

CREATE TABLE applications (
    id                   TEXT PRIMARY KEY,      -- UUIDv7: sorts by creation time
    request_id           TEXT NOT NULL,
    item_code            TEXT NOT NULL,
    receiving_region     TEXT NOT NULL,
    competent_region     TEXT NOT NULL,
    channel              TEXT NOT NULL,
    handling_mode        TEXT NOT NULL,
    applicant_kind       TEXT NOT NULL,
    applicant_index      TEXT NOT NULL,         -- HMAC blind index of the ID number
    material_fingerprint TEXT NOT NULL,         -- SHA-256 over the material digests
    personal             TEXT NOT NULL,         -- sealed JSON: applicant, agent, phone...
    masked               TEXT NOT NULL,         -- JSON: masked name / ID / phone for lists
    materials            TEXT NOT NULL,         -- JSON: ids, provided, trust, digests
    attestation          TEXT,                  -- JSON: staff id, time, digests
    deferred_materials   TEXT NOT NULL DEFAULT '[]',
    supplement_due       TEXT,
    status               TEXT NOT NULL,
    region_case_no       TEXT,
    anticipate_day       INTEGER,               -- the item's limits when applied for:
    anticipate_type      TEXT NOT NULL,         -- a catalogue change mid-case does not
    promise_day          INTEGER,               -- move its clock
    promise_type         TEXT NOT NULL,
    accepted_on          TEXT,
    legal_due            TEXT,
    promised_due         TEXT,
    paused_since         TEXT,                  -- set while in 特别程序
    paused_working_days  INTEGER NOT NULL DEFAULT 0,
    last_region_event_at TEXT,
    submitted_by         TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX applications_duplicates
    ON applications (applicant_index, item_code, material_fingerprint, created_at);
CREATE INDEX applications_status ON applications (status, id);
CREATE INDEX applications_due ON applications (promised_due, legal_due);
CREATE UNIQUE INDEX applications_region_case
    ON applications (competent_region, region_case_no) WHERE region_case_no IS NOT NULL;

-- Every transition and every absorbed region event, append-only.
CREATE TABLE application_events (
    id              BIGSERIAL PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications (id),
    kind            TEXT NOT NULL,             -- transition, ignored, supplement, rating...
    from_status     TEXT,
    to_status       TEXT,
    actor           TEXT NOT NULL,             -- region:shenzhen, relay, staff:..., partner:...
    region_event_id TEXT,
    occurred_at     TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX application_events_by_application ON application_events (application_id, id);

-- Region events already seen, so a repeated event id changes nothing.
CREATE TABLE region_events (
    region         TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    application_id TEXT,
    outcome        TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    PRIMARY KEY (region, event_id)
);

CREATE TABLE idempotency_keys (
    scope          TEXT NOT NULL,              -- who used the key (partner id, staff)
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    application_id TEXT NOT NULL,
    status_code    INTEGER NOT NULL,
    response       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE attachments (
    digest     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

-- 好差评: one per application (一事一评).
CREATE TABLE ratings (
    application_id TEXT PRIMARY KEY REFERENCES applications (id),
    setting        TEXT NOT NULL,
    level          INTEGER NOT NULL,
    indicators     TEXT NOT NULL,
    comment        TEXT,                       -- sealed: free text may hold personal data
    rated_by       TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

-- The outbox: one row per envelope to deliver; the relay worker claims due rows.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications (id),
    kind            TEXT NOT NULL,             -- submission, supplement, withdrawal, rating
    region          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    envelope        TEXT NOT NULL,             -- sealed envelope JSON (holds personal data)
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    last_error      TEXT
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_by_application ON deliveries (application_id);
