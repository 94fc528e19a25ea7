-- Check-in (issue 18, docs/checkin.md). Keep in step with ../../sqlite.

-- How a scanned code finds its person: the SHA-256 (hex) of the registration's check-in
-- code (`ManageKey::checkin_code_for`, derived, never stored). Written with the row;
-- filled at start-up for rows made before this column
-- (`domain::checkin::fill_stored_code_hashes`); NULL again once the person's data is
-- erased, and a NULL never matches a scan.
ALTER TABLE registrations ADD COLUMN checkin_code_hash TEXT;
CREATE UNIQUE INDEX registrations_checkin_code ON registrations (checkin_code_hash);

-- Minutes after a visit's start after which its seated people who have not checked in
-- on its list are no-shows (computed when read, never written).
ALTER TABLE events ADD COLUMN no_show_after_minutes INTEGER NOT NULL DEFAULT 30
    CHECK (no_show_after_minutes >= 0 AND no_show_after_minutes <= 1440);

-- Who is checked in on which list: one row per (person, list) at most — the primary key
-- is the backstop of invariant 11, written by conditional statements checked by their
-- affected rows. `site_visit_id` is '' for the event's entrance list. `checked_in_at`
-- is the earliest scan in (the scan `scan_id`, on `device`); `inside` follows the
-- latest movement (`moved_at`).
CREATE TABLE checkins (
    registration_id TEXT NOT NULL REFERENCES registrations (id),
    site_visit_id TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id),
    checked_in_at TIMESTAMP NOT NULL,
    scan_id TEXT NOT NULL,
    device TEXT NOT NULL,
    inside BOOLEAN NOT NULL,
    moved_at TIMESTAMP NOT NULL,
    PRIMARY KEY (registration_id, site_visit_id)
);
CREATE INDEX checkins_event ON checkins (event_id, site_visit_id);

-- Every scan, whatever its outcome, written in the transaction that applies it; a nonce
-- is applied once per event (a replay writes nothing). `registration_id` is NULL for an
-- unknown code. `scanned_by` is the token (or session) id, `scanned_by_name` its name.
CREATE TABLE checkin_scans (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id),
    nonce TEXT NOT NULL,
    registration_id TEXT REFERENCES registrations (id),
    site_visit_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    outcome TEXT NOT NULL CHECK (outcome IN ('checked_in', 're_entered', 'checked_out', 'not_inside',
        'already_checked_in', 'wrong_list', 'not_active', 'unknown_code')),
    scanned_by TEXT NOT NULL,
    scanned_by_name TEXT NOT NULL,
    device TEXT NOT NULL,
    scanned_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX checkin_scans_nonce ON checkin_scans (event_id, nonce);
CREATE INDEX checkin_scans_registration ON checkin_scans (registration_id);

-- Stewards' tokens.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'organiser', 'steward'));
