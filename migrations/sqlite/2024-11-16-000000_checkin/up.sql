-- Check-in (issue 18, docs/checkin.md). Keep in step with ../../postgres.

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

-- Stewards' tokens. SQLite cannot change a CHECK: api_tokens is rebuilt. board_sessions
-- refers to it (ON DELETE CASCADE), so it is set aside first: dropping api_tokens would
-- otherwise empty it.
CREATE TABLE board_sessions_kept AS SELECT secret_hash, token_id, created_at, expires_at FROM board_sessions;
DROP TABLE board_sessions;
CREATE TABLE api_tokens_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'organiser', 'steward')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    expires_at TIMESTAMP
);
INSERT INTO api_tokens_rebuilt (id, name, role, token_hash, created_at, revoked_at, expires_at)
SELECT id, name, role, token_hash, created_at, revoked_at, expires_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_rebuilt RENAME TO api_tokens;
CREATE TABLE board_sessions (
    secret_hash TEXT PRIMARY KEY NOT NULL,
    token_id TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
INSERT INTO board_sessions (secret_hash, token_id, created_at, expires_at)
SELECT secret_hash, token_id, created_at, expires_at FROM board_sessions_kept;
DROP TABLE board_sessions_kept;
CREATE INDEX board_sessions_token ON board_sessions (token_id);
CREATE INDEX board_sessions_expiry ON board_sessions (expires_at);
