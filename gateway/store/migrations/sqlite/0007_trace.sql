-- Trace by any ID (gateway/trace/): the W3C trace id an application was submitted
-- under, the per-hop times of each delivery attempt, and the indexes that find an
-- application from a request id, trace id or region case number.
ALTER TABLE applications ADD COLUMN trace_id TEXT;

-- Within one attempt: when the last in-call try sent its request, when the region's
-- response came back (NULL: none did, e.g. a timeout), and how many tries it took.
ALTER TABLE delivery_attempts ADD COLUMN request_sent_at TEXT;
ALTER TABLE delivery_attempts ADD COLUMN response_received_at TEXT;
ALTER TABLE delivery_attempts ADD COLUMN calls INTEGER;

CREATE INDEX applications_request_id ON applications (request_id);
CREATE INDEX applications_trace_id ON applications (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX applications_region_case_no ON applications (region_case_no)
    WHERE region_case_no IS NOT NULL;
CREATE INDEX deliveries_region_case_no ON deliveries (region_case_no)
    WHERE region_case_no IS NOT NULL;
