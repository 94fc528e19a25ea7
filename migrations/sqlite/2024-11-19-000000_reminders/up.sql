-- Reminders before each site visit (issue 19, docs/messages.md#reminders). Keep in
-- step with ../../postgres.

-- Hours before each visit's own start at which its seated people are reminded, as a
-- comma-separated list ('24,2'); '' for none.
ALTER TABLE events ADD COLUMN reminder_hours TEXT NOT NULL DEFAULT '';

-- What to bring to a visit (closed shoes, an ID card), said in its reminders.
ALTER TABLE site_visits ADD COLUMN bring TEXT NOT NULL DEFAULT '';

-- One row per reminder queued: a person is reminded once per visit and rule (the
-- primary key; the insert that queues it does nothing on a conflict, so several workers
-- and restarts never send one twice). Ids only: nothing to erase.
CREATE TABLE reminders_sent (
    registration_id TEXT NOT NULL,
    site_visit_id TEXT NOT NULL,
    hours_before INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (registration_id, site_visit_id, hours_before)
);
CREATE INDEX reminders_sent_visit ON reminders_sent (site_visit_id, hours_before);
