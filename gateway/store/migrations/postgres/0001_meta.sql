-- Facts about this installation that outlive a process: its id and creation time.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
