-- Staff accounts for the console and their sessions. An account belongs to one
-- service centre (region + name): that region is the receiving region of what it
-- submits. Passwords are argon2id hashes; a session row holds only the SHA-256 of
-- the cookie's token, so a copy of the database opens no session.
CREATE TABLE staff_accounts (
    id              TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    centre_region   TEXT NOT NULL,
    centre_name     TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE TABLE staff_sessions (
    token_hash   TEXT PRIMARY KEY,
    staff_id     TEXT NOT NULL REFERENCES staff_accounts (id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
