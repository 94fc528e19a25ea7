-- Identity data per site visit (issue 20, docs/identity-data.md). Keep in step with
-- ../../postgres.

-- The identity fields a site visit requires: a JSON list, any subset of
-- "nationality", "date_of_birth", "id_document", "licence_plate" (`[]`: none).
ALTER TABLE site_visits ADD COLUMN identity TEXT NOT NULL DEFAULT '[]';

-- A person's identity data for one visit: personal data, never in clear. `ciphertext` is
-- the JSON of the fields sealed with XChaCha20-Poly1305 under the key `key_id` of the
-- setting security.identity_keys (the key itself is never in the database), with the
-- random 24-byte `nonce`; the associated data binds it to (registration_id,
-- site_visit_id). Deleted after the visit, with the person, and when the seat is lost.
CREATE TABLE identity_data (
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    site_visit_id TEXT NOT NULL REFERENCES site_visits (id),
    ciphertext BLOB NOT NULL,
    nonce BLOB NOT NULL,
    key_id TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (registration_id, site_visit_id)
);
CREATE INDEX identity_data_site_visit ON identity_data (site_visit_id);
