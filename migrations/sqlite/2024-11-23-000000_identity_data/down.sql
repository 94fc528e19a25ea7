DROP TABLE identity_data;
ALTER TABLE site_visits DROP COLUMN identity;
