DROP TABLE reminders_sent;
ALTER TABLE site_visits DROP COLUMN bring;
ALTER TABLE events DROP COLUMN reminder_hours;
