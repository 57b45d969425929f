-- A peer gateway answers a delivery with its own signed receipt: kept with the
-- delivery (JSON text) as proof that the application was handed over.
ALTER TABLE deliveries ADD COLUMN hand_over_receipt TEXT;
