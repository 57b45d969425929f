-- A region's status event for a case number we have not recorded yet (its notice
-- overtook our own record of the submission's acknowledgement) is kept whole, so it
-- is applied when the case number lands instead of being lost.
ALTER TABLE region_events ADD COLUMN region_case_no TEXT;
ALTER TABLE region_events ADD COLUMN event TEXT;
CREATE INDEX region_events_parked ON region_events (region, region_case_no)
    WHERE outcome = 'unknown_case';
