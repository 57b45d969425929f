-- The audit log: append-only entries (RFC 9162 Merkle leaves) and signed checkpoints.
-- An entry is something the gateway did or saw, about one application or partner, at one
-- time. Its canonical bytes (RFC 8785) are rebuilt from these columns; `data` holds the
-- RFC 8785 text of the data object and `time` the exact string that was hashed (TEXT,
-- not TIMESTAMPTZ, so the hashed bytes come back unchanged).
-- Appends take pg_advisory_xact_lock(AUDIT_APPEND_LOCK) so seq has no gaps and entries
-- commit in seq order (see gateway/audit/log.py).
CREATE TABLE audit_entries (
    seq            BIGINT PRIMARY KEY CHECK (seq >= 0),
    time           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    application_id TEXT,
    request_id     TEXT,
    trace_id       TEXT,
    actor          TEXT NOT NULL,
    region         TEXT,
    data           TEXT NOT NULL,
    prev_hash      BYTEA NOT NULL CHECK (length(prev_hash) = 32),
    leaf_hash      BYTEA NOT NULL CHECK (length(leaf_hash) = 32)
);

CREATE INDEX audit_entries_application_id ON audit_entries (application_id)
    WHERE application_id IS NOT NULL;
CREATE INDEX audit_entries_request_id ON audit_entries (request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX audit_entries_trace_id ON audit_entries (trace_id)
    WHERE trace_id IS NOT NULL;

-- A checkpoint signs the tree head over the first `tree_size` entries.
CREATE TABLE audit_checkpoints (
    tree_size BIGINT PRIMARY KEY CHECK (tree_size > 0),
    root_hash BYTEA NOT NULL CHECK (length(root_hash) = 32),
    time      TEXT NOT NULL,
    origin    TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature BYTEA NOT NULL
);

-- Append-only: the database itself refuses to change or remove a written row.
-- (TRUNCATE too: it bypasses row triggers.)
CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();

CREATE TRIGGER audit_entries_no_truncate
    BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

CREATE TRIGGER audit_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();

CREATE TRIGGER audit_checkpoints_no_truncate
    BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
