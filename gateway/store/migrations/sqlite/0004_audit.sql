-- The audit log: append-only entries (RFC 9162 Merkle leaves) and signed checkpoints.
-- An entry is something the gateway did or saw, about one application or partner, at one
-- time. Its canonical bytes (RFC 8785) are rebuilt from these columns; `data` holds the
-- RFC 8785 text of the data object and `time` the exact string that was hashed.
CREATE TABLE audit_entries (
    seq            INTEGER PRIMARY KEY CHECK (seq >= 0),
    time           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    application_id TEXT,
    request_id     TEXT,
    trace_id       TEXT,
    actor          TEXT NOT NULL,
    region         TEXT,
    data           TEXT NOT NULL,
    prev_hash      BLOB NOT NULL CHECK (length(prev_hash) = 32),
    leaf_hash      BLOB NOT NULL CHECK (length(leaf_hash) = 32)
);

CREATE INDEX audit_entries_application_id ON audit_entries (application_id)
    WHERE application_id IS NOT NULL;
CREATE INDEX audit_entries_request_id ON audit_entries (request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX audit_entries_trace_id ON audit_entries (trace_id)
    WHERE trace_id IS NOT NULL;

-- A checkpoint signs the tree head over the first `tree_size` entries.
CREATE TABLE audit_checkpoints (
    tree_size INTEGER PRIMARY KEY CHECK (tree_size > 0),
    root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
    time      TEXT NOT NULL,
    origin    TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature BLOB NOT NULL
);

-- Append-only: the database itself refuses to change or remove a written row.
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused');
END;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE refused');
END;
