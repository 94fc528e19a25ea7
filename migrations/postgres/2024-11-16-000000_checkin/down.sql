DELETE FROM api_tokens WHERE role = 'steward';
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('admin', 'organiser'));
DROP TABLE checkin_scans;
DROP TABLE checkins;
ALTER TABLE events DROP COLUMN no_show_after_minutes;
DROP INDEX registrations_checkin_code;
ALTER TABLE registrations DROP COLUMN checkin_code_hash;
