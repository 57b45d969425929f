-- Deliveries are ordered per application and destination (a region, or a partner's
-- webhook: partner:<id>). The ordering check looks up earlier rows by both; with the
-- destination in the index it never falls back to scanning a whole region's rows.
DROP INDEX deliveries_in_order;
CREATE INDEX deliveries_in_order ON deliveries (application_id, region, created_at, id);
