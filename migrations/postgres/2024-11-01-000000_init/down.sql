DROP TABLE api_tokens;
DROP TABLE seat_assignments;
DROP TABLE registration_preferences;
DROP TABLE registrations;
DROP TABLE site_visits;
DROP TABLE events;
