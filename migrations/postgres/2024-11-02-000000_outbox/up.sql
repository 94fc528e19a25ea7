-- Transactional outbox (invariant 5): a request writes its email here in its own
-- transaction; delivery workers claim rows with a lease and send them.
CREATE TABLE outbox_emails (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id),
    registration_id TEXT REFERENCES registrations (id),
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    -- Everything needed to render the message, as JSON, snapshotted at the change.
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_emails_due ON outbox_emails (status, next_attempt_at);
CREATE INDEX outbox_emails_registration ON outbox_emails (registration_id);

-- Keys the service generates for itself once and shares between instances through the
-- database (unless configured): the key that derives manage-link tokens.
CREATE TABLE service_keys (
    name TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
