-- The language a person registered in (`en` or `fr`): their emails are written in it.
-- Registrations made before languages existed were all in English.
ALTER TABLE registrations ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
