-- The window's own records of a case: the mail tracking numbers of its two postal
-- legs (materials to the competent region, result to the applicant), and the
-- follow-up (回访/整改) a bad rating (差评) opens for the centre's supervisor.
CREATE TABLE postal_tracking (
    application_id TEXT NOT NULL REFERENCES applications (id),
    leg            TEXT NOT NULL,              -- materials | result
    carrier        TEXT NOT NULL,
    number         TEXT NOT NULL,
    recorded_by    TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    PRIMARY KEY (application_id, leg, number)
);

CREATE TABLE rating_followups (
    application_id TEXT PRIMARY KEY REFERENCES applications (id),
    centre_region  TEXT NOT NULL,              -- the receiving region: its supervisor follows up
    level          INTEGER NOT NULL,
    opened_at      TEXT NOT NULL,
    closed_at      TEXT,
    closed_by      TEXT,
    note           TEXT                        -- sealed: the supervisor's note may name the applicant
);
CREATE INDEX rating_followups_open ON rating_followups (centre_region, closed_at);
