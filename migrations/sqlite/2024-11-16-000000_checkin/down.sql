DELETE FROM api_tokens WHERE role = 'steward';
CREATE TABLE board_sessions_kept AS SELECT secret_hash, token_id, created_at, expires_at FROM board_sessions;
DROP TABLE board_sessions;
CREATE TABLE api_tokens_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'organiser')),
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
DROP TABLE checkin_scans;
DROP TABLE checkins;
ALTER TABLE events DROP COLUMN no_show_after_minutes;
DROP INDEX registrations_checkin_code;
ALTER TABLE registrations DROP COLUMN checkin_code_hash;
