DROP INDEX registrations_email;
DROP INDEX registrations_event_time;
DROP INDEX registrations_event_country;
ALTER TABLE registrations DROP COLUMN erased_at;
