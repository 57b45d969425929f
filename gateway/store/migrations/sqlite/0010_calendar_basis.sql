-- How exact an application's due dates are: 'exact' when every year they span has
-- the State Council's published schedule, 'provisional' when a year is derived from
-- the rules only, 'missing' when a year had no schedule (Monday to Friday counted).
-- Rows before this migration were counted with chinesecalendar 1.11, whose data ends
-- with 2026: a due date in 2027 or later was counted Monday to Friday.
ALTER TABLE applications ADD COLUMN calendar_basis TEXT NOT NULL DEFAULT 'exact';
UPDATE applications SET calendar_basis = 'missing'
    WHERE legal_due >= '2027-01-01' OR promised_due >= '2027-01-01';
CREATE INDEX applications_calendar_basis ON applications (calendar_basis)
    WHERE calendar_basis <> 'exact';
