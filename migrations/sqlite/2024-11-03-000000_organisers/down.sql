DROP TABLE audit_log;
ALTER TABLE events DROP COLUMN allocated_at;
ALTER TABLE registrations DROP COLUMN on_waitlist;
