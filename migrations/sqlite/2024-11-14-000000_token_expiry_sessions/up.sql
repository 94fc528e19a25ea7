-- Tokens that end by themselves, and organiser-board sessions kept on the server
-- (docs/decisions.md, "Tokens and sessions"). Keep in step with ../../postgres.

-- NULL: the token does not expire. Past it the token authenticates nowhere.
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;

-- One row per signed-in browser. The cookie carries a random 256-bit secret; only its
-- SHA-256 is kept, as for every other secret. Signing out deletes the row, revoking the
-- token deletes its rows, and a request counts only with a row that is unexpired and
-- whose token is live, so a copied cookie ends with the session it belongs to.
CREATE TABLE board_sessions (
    secret_hash TEXT PRIMARY KEY NOT NULL,
    token_id TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX board_sessions_token ON board_sessions (token_id);
CREATE INDEX board_sessions_expiry ON board_sessions (expires_at);
