-- Exports and data protection. Keep in step with the other backend's set.
-- When a registration's personal data was erased (a person's request, or retention):
-- the row stays, with its country, status and seat, so that counts stay right.
ALTER TABLE registrations ADD COLUMN erased_at TIMESTAMP;
-- Counts by country: a GROUP BY that reads this index only (`id` lets the seat and
-- ranking look-ups start from it).
CREATE INDEX registrations_event_country ON registrations (event_id, country, status, on_waitlist, id);
-- The attendee list in registration order, a page at a time (keyset pagination).
CREATE INDEX registrations_event_time ON registrations (event_id, created_at, id);
-- Erasing a person by email across every event.
CREATE INDEX registrations_email ON registrations (email_normalized);
