-- A peer gateway answers a delivery with its own signed receipt: kept with the
-- delivery (JSON text) as proof that the application was handed over.
ALTER TABLE deliveries ADD COLUMN hand_over_receipt TEXT;

-- The witness: each peer gateway's signed audit checkpoints as we saw them, with
-- our verdict against the last one we kept (consistency proof checked).
CREATE TABLE witnessed_checkpoints (
    id          BIGSERIAL PRIMARY KEY,
    peer        TEXT NOT NULL,
    tree_size   BIGINT NOT NULL,
    root_hash   TEXT NOT NULL,           -- hex
    checkpoint  TEXT NOT NULL,           -- the peer's checkpoint JSON, with its keys
    verdict     TEXT NOT NULL,           -- first | consistent | inconsistent
    detail      TEXT,
    seen_at     TEXT NOT NULL
);
CREATE INDEX witnessed_checkpoints_peer ON witnessed_checkpoints (peer, verdict, tree_size);
