-- Non-repudiation kept with each application (see gateway/applications/proof.py):
-- a partner's verified RFC 9421 signature (JSON), the exact body it covers (sealed
-- like personal data: it is the application in clear), and the staff attestation
-- signed by the gateway key (JSON with a detached JWS). NULL when not applicable.
ALTER TABLE applications ADD COLUMN evidence TEXT;
ALTER TABLE applications ADD COLUMN submission_body TEXT;
ALTER TABLE applications ADD COLUMN attestation_signed TEXT;
-- A partner lists only its own applications, newest first.
CREATE INDEX applications_submitted_by ON applications (submitted_by, id);
