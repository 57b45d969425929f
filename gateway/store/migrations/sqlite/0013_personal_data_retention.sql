-- Retention of personal data (个人信息保护法): when a closed case's personal data was
-- purged (gateway/retention/). NULL: not purged. The purge job finds closed cases
-- still holding personal data through the partial index, oldest first.
ALTER TABLE applications ADD COLUMN personal_purged_at TEXT;
CREATE INDEX applications_retention ON applications (updated_at)
    WHERE personal_purged_at IS NULL;
