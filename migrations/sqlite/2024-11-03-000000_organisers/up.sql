-- Organisers' tools: a registration an organiser placed (or removed from every visit)
-- stops waiting for automatic seats; an event in `preferences` mode gives seats
-- automatically once an allocation has been applied; every organiser and admin action
-- leaves an audit row.
ALTER TABLE registrations ADD COLUMN on_waitlist BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE events ADD COLUMN allocated_at TIMESTAMP;

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT REFERENCES events (id),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    before TEXT,
    after TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_event ON audit_log (event_id, created_at);
