ALTER TABLE registrations DROP COLUMN search_text;
