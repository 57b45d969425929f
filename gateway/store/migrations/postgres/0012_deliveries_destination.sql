-- A delivery goes to a destination: a region, or a partner's webhook lane
-- ('partner:<id>'). The column was called region; renamed in place, so every row
-- and both indexes on it (deliveries_claimable, deliveries_in_order) are kept.
ALTER TABLE deliveries RENAME COLUMN region TO destination;
